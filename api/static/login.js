// Post the form, keep the session cookie the server sets, then go to the page asked for
// (a same-origin path the server already checked: data-next). A file, not an inline
// script, so the page's Content-Security-Policy can forbid inline scripts.
document.getElementById("login").addEventListener("submit", async (event) => {
  event.preventDefault();
  const form = event.target;
  const response = await fetch("/auth/login", {method: "POST",
    body: new URLSearchParams(new FormData(form)), credentials: "same-origin"});
  if (response.ok) { window.location.assign(form.dataset.next || "/map"); return; }
  const problem = await response.json().catch(() => ({}));
  document.getElementById("error").textContent = problem.detail || "登录失败 login failed";
});
