// The model panel: a form built from the session's configuration (ASRConfig), the
// backends and models the server offers, and what the server says about a loaded model.

const LABELS = {
  model: "Model",
  lan: "Language (code or auto)",
  task: "Task",
  backend: "Backend",
  min_chunk_size: "Seconds of audio per model call",
  policy: "Commit policy",
  buffer_trimming: "Trim the audio window at",
  buffer_trimming_sec: "Trim once the window is (seconds)",
  vac: "Voice activity controller",
  vad: "Skip non-speech inside the window",
  device: "Device",
  compute_type: "Compute type",
  beam_size: "Beam size",
  cpu_threads: "CPU threads per call (0: cores / calls at once)",
  num_workers: "Calls at once (0: one per core)",
};

// Fields with a fixed set of values get a select; the server still validates everything.
const CHOICES = {
  task: ["transcribe", "translate"],
  policy: ["local-agreement", "align-att"],
  buffer_trimming: ["segment", "sentence"],
  device: ["cpu", "cuda", "auto"],
  compute_type: ["default", "auto", "int8", "int8_float32", "int8_float16", "int8_bfloat16",
    "int16", "float16", "bfloat16", "float32"],
};

// The server refuses paths from clients, so these are not offered.
const SERVER_ONLY = new Set(["model_dir", "model_cache_dir"]);
// What most people change; the rest waits under "More settings".
const MAIN_FIELDS = new Set(["model", "lan", "task", "backend"]);

export class ModelPanel {
  constructor({ form, fields, moreFields, models, current, status, metadata, submit }) {
    Object.assign(this, { form, fields, moreFields, models, current, status, metadata, submit });
    this.backends = [];
    this.kinds = new Map(); // field name -> "boolean" | "number" | "string"
  }

  /** Takes the server's /backends answer: backend names and the models it allows or has. */
  setOffer(offer) {
    this.backends = offer.backends ?? [];
    const names = new Set(offer.allowed_models ?? []);
    for (const entry of offer.loaded ?? []) names.add(entry.config.model);
    if (offer.default) names.add(offer.default.model);
    this.models.replaceChildren(
      ...[...names].sort().map((name) => Object.assign(document.createElement("option"), { value: name })),
    );
    const select = this.form.elements.namedItem("backend");
    if (select) fillSelect(select, this.backends, select.value);
  }

  /** Shows the session's configuration in the form (from `ready` or `model_loaded`). */
  showConfig(config) {
    this.fields.replaceChildren();
    this.moreFields.replaceChildren();
    this.kinds.clear();
    for (const [name, value] of Object.entries(config)) {
      if (SERVER_ONLY.has(name) || value === null || typeof value === "object") continue;
      this.kinds.set(name, typeof value);
      (MAIN_FIELDS.has(name) ? this.fields : this.moreFields).append(this.field(name, value));
    }
    this.current.textContent = `Current model: ${config.model} (${config.backend}, language ${config.lan}).`;
  }

  field(name, value) {
    const wrapper = document.createElement("div");
    wrapper.className = "field";
    const label = document.createElement("label");
    label.htmlFor = `config-${name}`;
    label.textContent = LABELS[name] ?? name.replaceAll("_", " ");
    let input;
    if (name === "backend" || CHOICES[name]) {
      input = document.createElement("select");
      fillSelect(input, name === "backend" ? this.backends : CHOICES[name], value);
    } else {
      input = document.createElement("input");
      if (typeof value === "boolean") {
        input.type = "checkbox";
        input.checked = value;
        wrapper.classList.add("checkbox");
      } else if (typeof value === "number") {
        input.type = "number";
        input.step = "any";
        input.min = "0";
        input.value = String(value);
      } else {
        input.type = "text";
        input.value = value;
        if (name === "model") input.setAttribute("list", "model-options");
      }
    }
    input.id = `config-${name}`;
    input.name = name;
    if (typeof value === "boolean") wrapper.append(input, label);
    else wrapper.append(label, input);
    return wrapper;
  }

  /** The form's values as `load_model` fields. */
  values() {
    const fields = {};
    for (const [name, kind] of this.kinds) {
      const input = this.form.elements.namedItem(name);
      if (kind === "boolean") fields[name] = input.checked;
      else if (kind === "number") fields[name] = input.value === "" ? null : Number(input.value);
      else fields[name] = input.value.trim();
    }
    return fields;
  }

  loading(fields) {
    this.status.textContent = `Loading ${fields.model}… the first load of a model can take a while.`;
    this.metadata.replaceChildren();
  }

  /** Shows a `model_loaded` message: the new configuration and the model's metadata. */
  loaded(message) {
    this.showConfig(message.config);
    this.status.textContent = `Loaded ${message.config.model}.`;
    this.metadata.replaceChildren();
    for (const [key, value] of Object.entries(message.metadata)) {
      const term = document.createElement("dt");
      const detail = document.createElement("dd");
      term.textContent = key.replaceAll("_", " ");
      detail.textContent = typeof value === "object" ? JSON.stringify(value) : String(value);
      this.metadata.append(term, detail);
    }
  }

  failed(explanation) {
    this.status.textContent = `Not loaded: ${explanation}`;
  }

  setEnabled(enabled) {
    this.submit.disabled = !enabled;
  }
}

function fillSelect(select, options, selected) {
  const values = options.includes(selected) || !selected ? options : [selected, ...options];
  select.replaceChildren(
    ...values.map((value) => Object.assign(document.createElement("option"), { value, textContent: value })),
  );
  select.value = selected;
}
