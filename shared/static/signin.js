// Sign-in for the SafeCampus pages (console, dashboard, report): served by every service that
// serves a page, from shared/signin.py. Returns the answer of POST /v1/auth/token (the token is
// kept in sessionStorage) or null, with the reason shown in `errorElement`.
async function signIn(username, password, roles, refusal, errorElement) {
  const response = await fetch("/v1/auth/token", {
    method: "POST", headers: { "Content-Type": "application/json" },
    body: JSON.stringify({ username: username, password: password }),
  });
  if (response.status === 429) {
    errorElement.textContent = "too many wrong passwords: try again in " + response.headers.get("Retry-After") + " s";
    return null;
  }
  if (response.status !== 200) { errorElement.textContent = "wrong user or password"; return null; }
  const body = await response.json();
  if (!roles.includes(body.role)) { errorElement.textContent = refusal; return null; }
  sessionStorage.setItem("token", body.access_token);
  return body;
}
