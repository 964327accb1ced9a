// Signed out: "Sign in", or "First run" to create the owner (sign-up works only while Mist has no
// user; afterwards the server answers 409 and the form says so and switches to sign-in).

import { api } from "../api.js";
import { h, replace } from "../dom.js";
import { field } from "../ui.js";

export function renderAuth({ view, notice }, onSignedIn) {
  let mode = "signin";
  const message = h("p", { class: "form-message", role: "alert", "data-testid": "auth-message" });
  const setMessage = (text, kind = "error") => {
    message.textContent = text || "";
    message.className = `form-message ${text ? `form-message-${kind}` : ""}`;
  };

  // Sign in
  const email = h("input", { type: "email", name: "email", autocomplete: "username", required: true });
  const password = h("input", { type: "password", name: "password", autocomplete: "current-password", required: true });
  const signinButton = h("button", { type: "submit", class: "btn btn-primary" }, "Sign in");
  const signin = h("form", { class: "stack", "data-testid": "signin-form" },
    field("Email", email), field("Password", password), signinButton);
  signin.addEventListener("submit", async (event) => {
    event.preventDefault();
    setMessage("");
    signinButton.disabled = true;
    try {
      onSignedIn(await api.login(email.value.trim(), password.value));
    } catch (err) {
      setMessage(err.status === 401 || err.status === 400 ? "Wrong email or password." : err.message);
    } finally {
      signinButton.disabled = false;
    }
  });

  // First run: the owner
  const username = h("input", { type: "text", name: "username", autocomplete: "username", required: true, pattern: "[A-Za-z0-9][A-Za-z0-9._\\-]*", maxlength: "64" });
  const ownerEmail = h("input", { type: "email", name: "email", autocomplete: "email", required: true });
  const ownerPassword = h("input", { type: "password", name: "new-password", autocomplete: "new-password", required: true, minlength: "8" });
  const ownerPassword2 = h("input", { type: "password", name: "new-password-again", autocomplete: "new-password", required: true, minlength: "8" });
  const setupButton = h("button", { type: "submit", class: "btn btn-primary" }, "Create owner and sign in");
  const setup = h("form", { class: "stack", "data-testid": "setup-form" },
    h("p", { class: "muted" }, "A fresh Mist has no users yet. The first account becomes its owner; afterwards sign-up closes and the owner adds users."),
    field("Username", username, "Letters, digits, dots, dashes, underscores."),
    field("Email", ownerEmail),
    field("Password", ownerPassword, "At least 8 characters."),
    field("Password again", ownerPassword2),
    setupButton);
  setup.addEventListener("submit", async (event) => {
    event.preventDefault();
    setMessage("");
    if (ownerPassword.value !== ownerPassword2.value) {
      setMessage("The two passwords differ.");
      return;
    }
    setupButton.disabled = true;
    try {
      onSignedIn(await api.signup(username.value.trim(), ownerEmail.value.trim(), ownerPassword.value));
    } catch (err) {
      if (err.status === 409) {
        show("signin");
        email.value = ownerEmail.value;
        setMessage(`${err.message}. Sign in instead.`);
      } else {
        setMessage(err.message);
      }
    } finally {
      setupButton.disabled = false;
    }
  });

  const tabSignin = h("button", { type: "button", role: "tab", class: "tab", onclick: () => show("signin") }, "Sign in");
  const tabSetup = h("button", { type: "button", role: "tab", class: "tab", onclick: () => show("setup") }, "First run setup");

  function show(which) {
    mode = which;
    signin.hidden = mode !== "signin";
    setup.hidden = mode !== "setup";
    tabSignin.setAttribute("aria-selected", String(mode === "signin"));
    tabSetup.setAttribute("aria-selected", String(mode === "setup"));
    setMessage("");
    (mode === "signin" ? email : username).focus();
  }

  replace(view, h("div", { class: "auth" },
    h("div", { class: "card auth-card" },
      h("h1", {}, "Mist"),
      notice ? h("p", { class: "notice" }, notice) : null,
      h("div", { class: "tabs", role: "tablist" }, tabSignin, tabSetup),
      message,
      signin,
      setup)));
  show(mode);
}
