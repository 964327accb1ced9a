// The Mist API from the browser: same origin, the HttpOnly session cookie goes along by itself.

export class ApiError extends Error {
  constructor(status, message) {
    super(message);
    this.status = status;
  }
}

let onUnauthorized = () => {};

/** Called whenever a request answers 401 (the session expired or was revoked). */
export function setUnauthorizedHandler(fn) {
  onUnauthorized = fn;
}

async function request(method, path, body, { raw = false, quiet401 = false } = {}) {
  const init = { method, credentials: "same-origin", headers: { Accept: "application/json" } };
  if (body !== undefined) {
    init.headers["Content-Type"] = "application/json";
    init.body = JSON.stringify(body);
  }
  let response;
  try {
    response = await fetch(path, init);
  } catch (err) {
    throw new ApiError(0, "Mist is not reachable: check the connection");
  }
  if (!response.ok) {
    let message = `${response.status} ${response.statusText}`;
    try {
      const data = await response.json();
      if (data && typeof data.message === "string" && data.message) message = data.message;
    } catch (_) { /* not JSON */ }
    if (response.status === 401 && !quiet401) onUnauthorized();
    throw new ApiError(response.status, message);
  }
  if (raw) return response.text();
  return response.json();
}

/** Mist's own routes answer {success, message, data}: return `data`. */
async function data(method, path, body, opts) {
  const result = await request(method, path, body, opts);
  return result && typeof result === "object" && "data" in result ? result.data : result;
}

export const api = {
  me: () => data("GET", "/api/auth/me", undefined, { quiet401: true }),
  signup: (username, email, password) => data("POST", "/api/auth/signup", { username, email, password }, { quiet401: true }),
  login: (email, password) => data("POST", "/api/auth/login", { email, password }, { quiet401: true }),
  logout: () => data("POST", "/api/auth/logout", undefined, { quiet401: true }),

  projects: () => data("GET", "/api/projects/getAll"),
  project: (id) => data("GET", `/api/projects/getFromId?id=${encodeURIComponent(id)}`),
  createProject: (name, description) => data("POST", "/api/projects/create", { name, description }),
  deleteProject: (id) => data("DELETE", `/api/projects/delete?id=${encodeURIComponent(id)}`),

  apps: (projectId) => data("POST", "/api/apps/getByProjectId", { projectId }),
  app: (appId) => data("POST", "/api/apps/getById", { appId }),
  createApp: (fields) => data("POST", "/api/apps/create", fields),
  updateApp: (appId, fields) => data("PUT", "/api/apps/update", { appId, ...fields }),
  deleteApp: (appId) => data("DELETE", "/api/apps/delete", { appId }),
  webhook: (appId, rotate = false) => data("POST", "/api/apps/webhook", rotate ? { appId, rotate: true } : { appId }),
  deployKey: (appId, rotate = false) => data("POST", "/api/apps/deployKey", rotate ? { appId, rotate: true } : { appId }),
  // Generated for the tip of the app's branch (a fetch): 422 with the reason when nothing can be built.
  dockerfile: (appId) => data("GET", `/api/apps/dockerfile?appId=${encodeURIComponent(appId)}`),

  // The app's running container: these answer its status (the control calls, the status after the change).
  containerStatus: (appId) => data("GET", `/api/apps/container/status?appId=${encodeURIComponent(appId)}`),
  containerControl: (appId, action) => data("POST", `/api/apps/container/${encodeURIComponent(action)}?appId=${encodeURIComponent(appId)}`),

  volumes: (appId) => data("POST", "/api/apps/volumes/get", { appId }),
  addVolume: (appId, fields) => data("POST", "/api/apps/volumes/create", { appId, ...fields }),
  removeVolume: (id) => data("DELETE", "/api/apps/volumes/delete", { id }),

  // Notifications (owner and admins): create and update with rotateSecret answer a webhook's `secret` once.
  nodes: () => data("GET", "/api/nodes"),
  updateNode: (id, availability) => data("PUT", "/api/nodes/update", { id, availability }),
  notifications: () => data("GET", "/api/notifications/getAll"),
  createNotification: (fields) => data("POST", "/api/notifications/create", fields),
  updateNotification: (id, fields) => data("PUT", "/api/notifications/update", { id, ...fields }),
  deleteNotification: (id) => data("DELETE", "/api/notifications/delete", { id }),
  testNotification: (id) => data("POST", "/api/notifications/test", { id }),
  deliveries: (limit, notificationId) => data("GET", `/api/notifications/deliveries?limit=${encodeURIComponent(limit)}${
    notificationId ? `&notificationId=${encodeURIComponent(notificationId)}` : ""}`),

  // Backups of database apps (restores run as jobs: poll restoreById for the status and log).
  backups: (appId) => data("POST", "/api/backups/getByAppId", { appId }),
  backupStatus: (appId) => data("POST", "/api/backups/status", { appId }),
  createBackup: (appId) => data("POST", "/api/backups/create", { appId }),
  restoreBackup: (backupId, targetAppId) => data("POST", "/api/backups/restore", { backupId, targetAppId }),
  restoreById: (id) => data("POST", "/api/backups/restores/getById", { id }),
  restoresOfApp: (appId) => data("POST", "/api/backups/restores/getByAppId", { appId }),
  backupDestinations: () => data("GET", "/api/backups/destinations/getAll"),

  auditLogs: (limit, offset) => data("GET", `/api/audit-logs?limit=${encodeURIComponent(limit)}&offset=${encodeURIComponent(offset)}`),

  domains: (appId) => data("POST", "/api/apps/domains/get", { appId }),
  addDomain: (appId, domain) => data("POST", "/api/apps/domains/create", { appId, domain }),
  removeDomain: (id) => data("DELETE", "/api/apps/domains/delete", { id }),

  // The Deployments API: /add answers the deployment itself, the others use the envelope.
  deploy: (appId) => request("POST", "/api/deployment/add", { appId }),
  deployments: (appId) => data("POST", "/api/deployment/getByAppId", { appId }),
  stop: (deploymentId) => data("POST", "/api/deployment/stop", { deploymentId }),
  rollback: (deploymentId) => data("POST", "/api/deployment/rollback", { deploymentId }),
  logText: (deploymentId) => request("GET", `/api/deployment/logs/${encodeURIComponent(deploymentId)}`, undefined, { raw: true }),
};

export function logUrl(deploymentId) {
  return `/api/deployment/logs/${encodeURIComponent(deploymentId)}`;
}
