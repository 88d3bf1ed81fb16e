// Sign-in for the SafeCampus pages (console, dashboard, report): served by every service that
// serves a page, from shared/signin.py. Returns the answer of POST /v1/auth/token (the token is
// kept in sessionStorage) or null, with the reason shown in `errorElement`, in the page's
// language (labels.js, loaded before it).
async function signIn(username, password, roles, refusal, errorElement) {
  const response = await fetch("/v1/auth/token", {
    method: "POST", headers: { "Content-Type": "application/json" },
    body: JSON.stringify({ username: username, password: password }),
  });
  if (response.status === 429) {
    errorElement.textContent = text("too_many", { seconds: response.headers.get("Retry-After") });
    return null;
  }
  if (response.status !== 200) { errorElement.textContent = text("wrong_password"); return null; }
  const body = await response.json();
  if (!roles.includes(body.role)) { errorElement.textContent = refusal; return null; }
  sessionStorage.setItem("token", body.access_token);
  return body;
}
