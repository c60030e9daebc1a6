// Live progress bars (polling persisted progress), drag-and-drop upload, select-all, confirms.
(function () {
  "use strict";

  // Every 2 s while something changes; while nothing does (a long document, a full queue)
  // the wait grows by half each time, up to 10 s: each poll is a page view counted against
  // the organization's request limit (60 a minute on the free plan), which a page polling
  // every 2 s would half spend by itself. A 429 (that limit) waits what Retry-After says;
  // other failures back off by doubling, up to a minute.
  const POLL_MS = 2000;
  const MAX_QUIET_MS = 10000;
  const MAX_BACKOFF_MS = 60000;
  let pollDelay = POLL_MS;
  let quietDelay = POLL_MS;
  let lastSeen = "";

  function retryAfterMs(response) {
    const seconds = parseInt(response.headers.get("Retry-After") || "", 10);
    return Number.isFinite(seconds) && seconds > 0 ? seconds * 1000 : null;
  }

  function pollProgress() {
    const bars = Array.from(document.querySelectorAll("progress.live-progress[data-document-id]"));
    if (bars.length === 0) return;
    const params = new URLSearchParams();
    bars.forEach((bar) => params.append("id", bar.dataset.documentId));
    fetch("/documents/progress?" + params.toString(), { headers: { Accept: "application/json" } })
      .then((response) => {
        if (response.ok) {
          return response.json().then((data) => {
            const seen = JSON.stringify(data.documents.map((d) => [d.id, d.status, d.progress]));
            quietDelay = seen === lastSeen ? Math.min(MAX_QUIET_MS, quietDelay * 1.5) : POLL_MS;
            lastSeen = seen;
            pollDelay = quietDelay;
            return data;
          });
        }
        const wait = response.status === 429 ? retryAfterMs(response) : null;
        pollDelay = Math.min(MAX_BACKOFF_MS, wait || pollDelay * 2);
        return { documents: [] };
      })
      .then((data) => {
        data.documents.forEach((doc) => {
          const bar = document.querySelector('progress[data-document-id="' + doc.id + '"]');
          const badge = document.querySelector('[data-status-for="' + doc.id + '"]');
          if (badge) {
            badge.textContent = doc.status;
            badge.className = "badge badge-" + doc.status;
          }
          const message = document.querySelector('[data-message-for="' + doc.id + '"]');
          if (message) {
            if (doc.status === "done") {
              message.textContent = "Uploaded and processed: the digest is ready.";
            } else if (doc.status === "failed") {
              message.textContent =
                "Uploaded, but processing failed: " + (doc.error || "no reason was recorded.");
            }
          }
          const reason = document.querySelector('[data-error-for="' + doc.id + '"]');
          if (reason && doc.status === "failed" && doc.error) {
            reason.textContent = doc.error;
            reason.hidden = false;
          }
          if (!bar) return;
          bar.value = doc.progress;
          bar.textContent = doc.progress + "%";
          if (doc.status === "done" || doc.status === "failed") {
            bar.classList.remove("live-progress");
            if (doc.status === "failed" && doc.error && badge) badge.title = doc.error;
            // A document's own page shows its digest or error once processing ends.
            if (bar.dataset.reloadWhenFinished !== undefined) {
              window.location.reload();
            } else {
              bar.remove();
            }
          }
        });
      })
      .catch(() => {
        pollDelay = Math.min(MAX_BACKOFF_MS, pollDelay * 2);
      })
      .finally(() => {
        if (document.querySelector("progress.live-progress")) setTimeout(pollProgress, pollDelay);
      });
  }

  function dragAndDrop() {
    const zone = document.getElementById("dropzone");
    const input = document.getElementById("files");
    if (!zone || !input) return;
    ["dragenter", "dragover"].forEach((name) =>
      zone.addEventListener(name, (event) => {
        event.preventDefault();
        zone.classList.add("over");
      })
    );
    ["dragleave", "drop"].forEach((name) =>
      zone.addEventListener(name, () => zone.classList.remove("over"))
    );
    zone.addEventListener("drop", (event) => {
      event.preventDefault();
      if (event.dataTransfer && event.dataTransfer.files.length) {
        input.files = event.dataTransfer.files;
        document.getElementById("upload-form").submit();
      }
    });
  }

  function selectAll() {
    const all = document.getElementById("select-all");
    if (!all) return;
    all.addEventListener("change", () => {
      document.querySelectorAll('input[name="ids"]').forEach((box) => (box.checked = all.checked));
    });
  }

  function confirms() {
    document.querySelectorAll("form[data-confirm]").forEach((form) =>
      form.addEventListener("submit", (event) => {
        if (!window.confirm(form.dataset.confirm)) event.preventDefault();
      })
    );
  }

  document.addEventListener("DOMContentLoaded", () => {
    pollProgress();
    dragAndDrop();
    selectAll();
    confirms();
  });
})();
