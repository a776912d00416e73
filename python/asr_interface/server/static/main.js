// The page: opens its connection and wires the controls to the modules that do each job.
//   page.js               the shared state (one `activity`), the controls it decides, problems
//   connection-state.js   the connection line, and what a new session takes up
//   server-messages.js    what each server message changes
//   live-recording.js     the microphone's stream
//   file-transcription.js an audio file's stream
//   held-stream.js        a stream waiting through a lost connection
//   model-choice.js       the model the person chose
//   downloads.js          the transcript as a file

import { Connection } from "./connection.js";
import { handleState, socketAddress } from "./connection-state.js";
import { download } from "./downloads.js";
import { cancelFile, transcribeFile } from "./file-transcription.js";
import { startLive, stopLive } from "./live-recording.js";
import { microphoneUnavailable } from "./microphone.js";
import { requestModel } from "./model-choice.js";
import { $, clearProblem, modelPanel, page, setActivity } from "./page.js";
import { handleMessage } from "./server-messages.js";

const connection = new Connection(socketAddress(), { onMessage: handleMessage, onState: handleState });
page.connection = connection;

$("live-start").addEventListener("click", startLive);
$("live-stop").addEventListener("click", stopLive);
$("file-input").addEventListener("change", (event) => {
  transcribeFile(event.target.files[0]);
  event.target.value = "";
});
$("file-cancel").addEventListener("click", cancelFile);
$("problem-dismiss").addEventListener("click", clearProblem);
$("reconnect").addEventListener("click", () => connection.retryNow());
window.addEventListener("online", () => connection.retryNow());
$("model-form").addEventListener("submit", (event) => {
  event.preventDefault();
  if (page.connected && page.activity === "idle") {
    clearProblem();
    requestModel(modelPanel.values());
  }
});
for (const button of document.querySelectorAll("[data-format]")) {
  button.addEventListener("click", () => download(button.dataset.format));
}

const dropZone = $("drop-zone");
dropZone.addEventListener("dragover", (event) => {
  event.preventDefault();
  dropZone.classList.add("over");
});
dropZone.addEventListener("dragleave", () => dropZone.classList.remove("over"));
dropZone.addEventListener("drop", (event) => {
  event.preventDefault();
  dropZone.classList.remove("over");
  transcribeFile(event.dataTransfer.files[0]);
});

const unavailable = microphoneUnavailable();
if (unavailable) {
  $("live-note").textContent = unavailable;
  $("live-note").hidden = false;
}
setActivity("idle");
connection.open();
