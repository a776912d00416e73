// The transcript as a file to keep, in each format of transcript.js, named after the
// audio file it came from or the time of the download.

import { page, transcript } from "./page.js";
import { FORMATS } from "./transcript.js";

export function download(format) {
  const { render, type, extension } = FORMATS[format];
  const blob = new Blob([render(transcript.lines)], { type: `${type};charset=utf-8` });
  const base = page.fileRun?.name?.replace(/\.[^.]+$/, "") ??
    `transcript-${new Date().toISOString().slice(0, 16).replace(/[:T]/g, "-")}`;
  const link = Object.assign(document.createElement("a"), {
    href: URL.createObjectURL(blob),
    download: `${base}.${extension}`,
  });
  document.body.append(link);
  link.click();
  link.remove();
  setTimeout(() => URL.revokeObjectURL(link.href), 10000);
}
