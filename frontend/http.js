// Same-origin JSON calls; POSTs carry the CSRF token in the X-CSRFToken header (Flask-WTF).
export async function getJson(url) {
  const response = await fetch(url, { credentials: 'same-origin', headers: { Accept: 'application/json' } });
  return readJson(response);
}

export async function postJson(url, body, csrfToken) {
  const response = await fetch(url, {
    method: 'POST',
    credentials: 'same-origin',
    headers: { 'Content-Type': 'application/json', Accept: 'application/json', 'X-CSRFToken': csrfToken },
    body: JSON.stringify(body || {}),
  });
  return readJson(response);
}

async function readJson(response) {
  const type = response.headers.get('Content-Type') || '';
  if (!type.includes('application/json')) {
    const error = new Error(response.status === 400
      ? 'The page expired (CSRF check failed): reload it and try again.'
      : `The server answered ${response.status}.`);
    error.status = response.status;
    throw error;
  }
  const data = await response.json();
  if (!response.ok) {
    const error = new Error(data.error || `The server answered ${response.status}.`);
    error.status = response.status;
    error.data = data;
    throw error;
  }
  return data;
}
