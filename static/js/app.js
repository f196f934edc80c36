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
