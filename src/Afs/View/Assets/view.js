// afs view: a run in progress updates itself. The server sends the run's live section (progress, figures, charts)
// as server-sent events while it changes; the page puts it in place, and reloads once when the run has ended.
// Without script, the page of a running run reloads itself every few seconds instead (<noscript> refresh).
(() => {
  const live = document.getElementById('live');
  if (!live || !live.dataset.stream || !window.EventSource) {
    return;
  }
  const events = new EventSource(live.dataset.stream);
  events.addEventListener('live', (event) => {
    live.innerHTML = event.data;
    live.dataset.updates = String(Number(live.dataset.updates || '0') + 1);
  });
  events.addEventListener('finished', () => {
    events.close();
    window.location.reload();
  });
})();
