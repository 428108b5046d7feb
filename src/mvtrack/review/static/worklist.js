// Worklist: the analysed studies of OUT_DIR, QC-flagged first (the server orders them).
"use strict";

function fmt(value, digits) {
  return value === null || value === undefined ? "n/a" : Number(value).toFixed(digits);
}

function cell(row, content, className) {
  const td = document.createElement("td");
  if (content instanceof Node) td.appendChild(content); else td.textContent = content;
  if (className) td.className = className;
  row.appendChild(td);
  return td;
}

function render(data) {
  document.getElementById("root").textContent = `${data.root}: ${data.studies.length} analysed stud${data.studies.length === 1 ? "y" : "ies"}`;
  const body = document.querySelector("#worklist tbody");
  body.textContent = "";
  if (!data.studies.length) {
    const row = body.insertRow();
    cell(row, "no analysed study in this folder (run mvtrack analyze … --out this folder)", "muted").colSpan = 6;
    return;
  }
  for (const study of data.studies) {
    const row = body.insertRow();
    row.dataset.study = study.study;
    const link = document.createElement("a");
    link.href = "/study?id=" + encodeURIComponent(study.study);
    link.textContent = study.study;
    cell(row, link);
    cell(row, study.views.join(" + "));
    cell(row, fmt(study.mapse_mm, 1), "num");
    cell(row, fmt(study.e_prime_cm_s, 1), "num");
    const qc = cell(row, study.needs_review ? `needs review (${study.qc_reasons.length})` : "ok",
                    study.needs_review ? "flag" : "ok");
    qc.title = study.qc_reasons.join("\n");
    let reviewed = "not reviewed";
    if (study.reviewed) {
      reviewed = "reviewed " + (study.reviewed_when || "").replace("T", " ").slice(0, 16);
      if (study.reader_confirmed.length) reviewed += ` · ${study.reader_confirmed.join(", ")} confirmed`;
    }
    cell(row, reviewed, study.reviewed ? "ok" : "muted");
    row.addEventListener("click", (event) => { if (event.target.tagName !== "A") location.href = link.href; });
  }
}

fetch("/api/studies", { cache: "no-store" })
  .then((r) => r.json().then((data) => { if (!r.ok) throw new Error(data.error || r.statusText); return data; }))
  .then(render)
  .catch((error) => {
    const p = document.getElementById("error");
    p.textContent = "Could not list the studies: " + error.message;
    p.hidden = false;
  });
