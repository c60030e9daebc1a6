// Small screens: the menu button shows and hides the navigation, search and account links
// (without this script the menu simply stays open: nothing is out of reach); wide tables
// become focusable scrolling regions.
(function () {
  "use strict";

  // A table wider than a phone scrolls sideways inside its card; it is made focusable then, so
  // it can be scrolled with the keyboard as well.
  function focusableScrollers() {
    document.querySelectorAll("main table, main .table-scroll").forEach((box) => {
      if (box.scrollWidth > box.clientWidth + 1) {
        box.tabIndex = 0;
      } else if (box.getAttribute("tabindex") === "0") {
        box.removeAttribute("tabindex");
      }
    });
  }
  focusableScrollers();
  window.addEventListener("resize", focusableScrollers);

  const header = document.querySelector("header.topbar");
  const button = header && header.querySelector(".menu-button");
  if (!button) return;
  header.classList.add("menu-closed");
  button.addEventListener("click", () => {
    const closed = header.classList.toggle("menu-closed");
    button.setAttribute("aria-expanded", closed ? "false" : "true");
  });
  document.addEventListener("keydown", (event) => {
    if (event.key === "Escape" && !header.classList.contains("menu-closed")) {
      header.classList.add("menu-closed");
      button.setAttribute("aria-expanded", "false");
      button.focus();
    }
  });
})();
