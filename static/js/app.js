// The back-office's only script; htmx does the rest (loaded before this, both deferred).
//
// In DEBUG, django-htmx's helper replaces the whole page with any 400 answer to an htmx request,
// to show Django's error page. Our 400s are forms carrying their errors, meant to be swapped in
// place, so stop that event before it reaches the helper's listener on the document.
document.body.addEventListener("htmx:beforeOnLoad", (event) => {
  if (event.detail.xhr.status === 400) {
    event.stopPropagation();
  }
});

// Back and Forward ask the server for the page (base.html: no history snapshots). Two quick
// Backs ask twice, and the older answer could land last and show the page before: only the
// latest restore may swap, the one still under way is aborted.
let restoring = null;
document.body.addEventListener("htmx:historyCacheMiss", (event) => {
  if (restoring) {
    restoring.abort();
  }
  restoring = event.detail.xhr;
});
document.body.addEventListener("htmx:historyRestore", () => {
  restoring = null;
});

// Polled sections (data-poll: the payment page's webhook timeline) ask nothing while the page
// is hidden (a background tab), and ask at once when it is shown again ("page-visible").
document.body.addEventListener("htmx:beforeRequest", (event) => {
  if (document.hidden && event.detail.elt.hasAttribute("data-poll")) {
    event.preventDefault();
  }
});
document.addEventListener("visibilitychange", () => {
  if (!document.hidden) {
    document.querySelectorAll("[data-poll]").forEach((elt) => htmx.trigger(elt, "page-visible"));
  }
});
// A poll answered from elsewhere (the session ended: a redirect to the login page) swaps
// nothing into the section; the next click shows the login page.
document.body.addEventListener("htmx:beforeSwap", (event) => {
  const elt = event.detail.requestConfig && event.detail.requestConfig.elt;
  const xhr = event.detail.xhr;
  if (elt && elt.hasAttribute("data-poll") && xhr.responseURL) {
    const asked = new URL(event.detail.pathInfo.requestPath, location.href).pathname;
    if (new URL(xhr.responseURL).pathname !== asked) {
      event.detail.shouldSwap = false;
    }
  }
});
