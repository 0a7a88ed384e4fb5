// The upload page. Every text from a file or the server goes in with textContent,
// never innerHTML, so a file named "><script>... is shown, not run.
"use strict";

const $ = (id) => document.getElementById(id);

async function refreshModelVersion() {
  try {
    const health = await (await fetch("/healthz")).json();
    $("model-version").textContent = health.model_version || health.error || "unknown";
  } catch (e) {
    $("model-version").textContent = "unavailable";
  }
}

function setStatus(text, isError) {
  $("status").textContent = text;
  $("status").className = isError ? "error" : "";
}

function addCard(file) {
  const card = $("card").content.firstElementChild.cloneNode(true);
  card.querySelector(".preview").src = URL.createObjectURL(file);
  card.querySelector(".filename").textContent = file.name;
  return card;
}

function fillCard(card, prediction) {
  card.querySelector(".label").textContent = prediction.label;
  card.querySelector(".score").textContent = (100 * prediction.score).toFixed(1) + "%";
  const bars = card.querySelector(".bars");
  const entries = Object.entries(prediction.scores).sort((a, b) => b[1] - a[1]);
  for (const [label, score] of entries) {
    const row = document.createElement("div");
    row.className = "bar" + (label === prediction.label ? " best" : "");
    const name = document.createElement("span");
    name.textContent = label;
    const track = document.createElement("div");
    track.className = "track";
    const fill = document.createElement("div");
    fill.className = "fill";
    fill.style.width = (100 * score).toFixed(1) + "%";
    track.appendChild(fill);
    const value = document.createElement("span");
    value.textContent = (100 * score).toFixed(1) + "%";
    row.append(name, track, value);
    bars.appendChild(row);
  }
}

// Large phone photos take a while to send: show how much of the upload has gone.
function showProgress(loaded, total) {
  const bar = $("progress");
  bar.hidden = false;
  bar.max = total;
  bar.value = loaded;
  const mb = (n) => (n / 1048576).toFixed(1);
  setStatus("uploading " + mb(loaded) + " of " + mb(total) + " MB (" + Math.round((100 * loaded) / total) + "%)…", false);
}

// POST the form with XMLHttpRequest (fetch cannot report upload progress).
function send(form) {
  return new Promise((resolve, reject) => {
    const xhr = new XMLHttpRequest();
    xhr.open("POST", "/predict");
    xhr.responseType = "json";
    xhr.upload.addEventListener("progress", (e) => { if (e.lengthComputable) showProgress(e.loaded, e.total); });
    xhr.upload.addEventListener("load", () => setStatus("upload done; asking the model…", false));
    xhr.addEventListener("load", () => resolve({ ok: xhr.status >= 200 && xhr.status < 300, status: xhr.status, body: xhr.response || {} }));
    xhr.addEventListener("error", () => reject(new Error("network error")));
    xhr.send(form);
  });
}

async function upload(files) {
  if (!files.length) return;
  const cards = Array.from(files, addCard);
  $("results").prepend(...cards);  // newest upload first, in the order chosen
  const form = new FormData();
  for (const file of files) form.append("files", file, file.name);
  setStatus("sending " + files.length + " photo(s)…", false);
  try {
    const response = await send(form);
    const body = response.body;
    if (!response.ok) {
      cards.forEach((c) => { c.querySelector(".label").textContent = "rejected"; c.classList.add("error-text"); });
      setStatus(body.error || "the server refused the upload (" + response.status + ")", true);
      return;
    }
    body.predictions.forEach((p, i) => fillCard(cards[i], p));
    $("model-version").textContent = body.model_version;
    setStatus("answered by model version " + body.model_version, false);
  } catch (e) {
    setStatus("request failed: " + e, true);
  } finally {
    $("progress").hidden = true;
  }
}

$("files").addEventListener("change", (e) => upload(e.target.files));
const drop = $("drop");
drop.addEventListener("dragover", (e) => { e.preventDefault(); drop.classList.add("over"); });
drop.addEventListener("dragleave", () => drop.classList.remove("over"));
drop.addEventListener("drop", (e) => { e.preventDefault(); drop.classList.remove("over"); upload(e.dataTransfer.files); });
refreshModelVersion();
