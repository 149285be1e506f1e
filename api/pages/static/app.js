// A little script where it helps: the replay slider updates the panel in place, and verification shows progress.
// Without it every page still works (the slider's form and the verify button submit normally).
"use strict";
document.documentElement.classList.add("js");

document.addEventListener("DOMContentLoaded", () => {
  const replay = document.querySelector("form.replay");
  if (replay) {
    const slider = replay.querySelector("input[type=range]");
    const shown = replay.querySelector("output");
    let pending = null;
    slider.addEventListener("input", () => {
      shown.textContent = slider.value;
      clearTimeout(pending);
      pending = setTimeout(async () => {
        const response = await fetch(`${replay.dataset.panel}?version=${slider.value}`, {credentials: "same-origin"});
        const holder = document.createElement("div");
        holder.innerHTML = response.ok ? await response.text() : "";
        const fresh = holder.querySelector("#panel");
        const panel = document.getElementById("panel");
        if (response.redirected || !fresh || !panel) {  // the session ended (or the page changed): load it whole
          window.location.assign(`?version=${slider.value}`);
          return;
        }
        panel.replaceWith(fresh);
        history.replaceState(null, "", `?version=${slider.value}`);
      }, 120);
    });
  }

  const verify = document.getElementById("verify-form");
  if (verify && window.EventSource) {
    verify.addEventListener("submit", (event) => {
      event.preventDefault();
      const status = document.getElementById("verify-status");
      const bar = document.getElementById("verify-progress");
      const button = verify.querySelector("button");
      button.disabled = true;
      bar.hidden = false;
      bar.value = 0;
      status.textContent = "Verifying…";
      const source = new EventSource(verify.dataset.progress);
      source.addEventListener("progress", (e) => {
        const data = JSON.parse(e.data);
        bar.value = data.position;
        status.textContent = `Verified ${data.checked.toLocaleString()} entries…`;
      });
      source.addEventListener("done", (e) => {
        const answer = JSON.parse(e.data);
        source.close();
        bar.value = bar.max;
        button.disabled = false;
        status.textContent = answer.ok
          ? `All is well: ${answer.entries_checked.toLocaleString()} entries checked.`
          : `NOT OK: first mismatch at position ${answer.first_mismatch} (${answer.problem || "derived state"}).`;
      });
      source.addEventListener("failed", (e) => {
        source.close();
        button.disabled = false;
        status.textContent = `Verification failed: ${JSON.parse(e.data).message}`;
      });
      source.onerror = () => { source.close(); button.disabled = false; };
    });
  }
});
