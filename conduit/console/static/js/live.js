// Live updates: one subscription to the organization's events, and a debounced refresh of whatever the
// page shows when an event concerns it. The server filters events by the viewer's scopes.

import { subscribe } from "./api.js";

const EVENTS = "subscription Live { events { id type data } }";

// `fn` run one at a time: a call while it runs asks for one more run after it, so the last state read
// is always drawn last (two overlapping reads could otherwise land in either order).
export function serial(fn) {
  let running = null;
  let again = false;
  const run = async () => {
    do {
      again = false;
      try {
        await fn();
      } catch (error) {
        // A failed refresh leaves the page as it was; the next event tries again.
      }
    } while (again);
    running = null;
  };
  return () => {
    if (running) again = true;
    else running = run();
    return running;
  };
}

export function live(concerns, load, delay = 200) {
  const refresh = serial(load);
  let timer = null;
  const soon = () => {
    clearTimeout(timer);
    timer = setTimeout(refresh, delay);
  };
  const stop = subscribe(EVENTS, {}, (data) => {
    if (data.events && concerns(data.events)) soon();
  }, soon);
  return () => {
    clearTimeout(timer);
    stop();
  };
}

// Whether `event` names `id` anywhere in its data (ids are expanded into resources when published).
export function mentions(event, id) {
  return JSON.stringify(event.data || {}).includes(`"${id}"`);
}
