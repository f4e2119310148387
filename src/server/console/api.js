// Every call the console makes goes through the public HTTP API. With a token, the
// page asks for it once and keeps it in session storage (never in the page or a URL).

const TOKEN_KEY = 'segmint-token';

export class ApiError extends Error {
  constructor(status, problem) {
    super(problem.detail || problem.title || `HTTP ${status}`);
    this.status = status;
    this.problem = problem;
    this.pointer = problem.pointer;
  }
}

let asking = null;

// Shows the token dialog and resolves once a token is typed.
function askToken(wrong) {
  if (asking) return asking;
  const dialog = document.getElementById('token-dialog');
  const input = document.getElementById('token-input');
  document.getElementById('token-error').textContent = wrong ? 'That token was refused.' : '';
  input.value = '';
  asking = new Promise((resolve) => {
    dialog.addEventListener('close', () => {
      sessionStorage.setItem(TOKEN_KEY, input.value);
      asking = null;
      resolve();
    }, { once: true });
  });
  dialog.showModal();
  return asking;
}

async function send(method, path, body, accept) {
  for (;;) {
    const headers = { Accept: accept };
    const token = sessionStorage.getItem(TOKEN_KEY);
    if (token) headers.Authorization = `Bearer ${token}`;
    if (body !== undefined) headers['Content-Type'] = 'application/json';
    const response = await fetch(path, {
      method,
      headers,
      body: body === undefined ? undefined : JSON.stringify(body),
    });
    if (response.status === 401) {
      await askToken(Boolean(token));
      continue;
    }
    if (!response.ok) {
      let problem;
      try {
        problem = await response.json();
      } catch {
        problem = { title: response.statusText };
      }
      throw new ApiError(response.status, problem);
    }
    return response;
  }
}

export async function api(method, path, body) {
  const response = await send(method, path, body, 'application/json');
  return response.status === 204 ? null : response.json();
}

// Fetches an export (with the token) and hands it to the browser as a download.
export async function download(method, path, body, filename) {
  const response = await send(method, path, body, '*/*');
  const blob = await response.blob();
  const link = document.createElement('a');
  link.href = URL.createObjectURL(blob);
  link.download = filename;
  document.body.append(link);
  link.click();
  link.remove();
  setTimeout(() => URL.revokeObjectURL(link.href), 60_000);
}

export const segmentPath = (id) => `/segments/${encodeURIComponent(id)}`;
