// The API client: where the API is (same origin, or config.json next to index.html in AWS), the
// session (tokens in localStorage, renewed before the access token expires) and errors a person can read.

export interface Config {
  apiUrl: string;
  wsUrl: string;
}

export interface Session {
  email: string;
  accessToken: string;
  refreshToken: string | null;
  expiresAt: number; // epoch ms
}

export class ApiError extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
  ) {
    super(message);
  }
}

const SESSION_KEY = "backbeat.session";
const RENEW_BEFORE_MS = 60_000;

let config: Config = sameOrigin();
let session: Session | null = readSession();
let renewTimer: number | undefined;
let renewing: Promise<boolean> | null = null;
const sessionListeners = new Set<(s: Session | null, reason?: string) => void>();

function sameOrigin(): Config {
  const origin = location.origin;
  return { apiUrl: origin, wsUrl: origin.replace(/^http/, "ws") + "/ws" };
}

/** config.json (written next to index.html by the AWS deployment) names the API; otherwise same origin. */
export async function loadConfig(): Promise<Config> {
  try {
    const response = await fetch("config.json", { cache: "no-store" });
    if (response.ok) {
      const found = (await response.json()) as Partial<Config>;
      const apiUrl = (found.apiUrl || config.apiUrl).replace(/\/$/, "");
      config = { apiUrl, wsUrl: found.wsUrl || apiUrl.replace(/^http/, "ws") + "/ws" };
    }
  } catch {
    // no config.json: the API is this page's origin
  }
  return config;
}

export function getConfig(): Config {
  return config;
}

function readSession(): Session | null {
  try {
    const stored = JSON.parse(localStorage.getItem(SESSION_KEY) || "null") as Session | null;
    return stored && stored.accessToken ? stored : null;
  } catch {
    return null;
  }
}

export function currentSession(): Session | null {
  return session;
}

export function onSession(listener: (s: Session | null, reason?: string) => void): () => void {
  sessionListeners.add(listener);
  return () => sessionListeners.delete(listener);
}

function setSession(next: Session | null, reason?: string): void {
  session = next;
  if (next) localStorage.setItem(SESSION_KEY, JSON.stringify(next));
  else localStorage.removeItem(SESSION_KEY);
  scheduleRenewal();
  sessionListeners.forEach((listener) => listener(next, reason));
}

interface Tokens {
  accessToken: string;
  refreshToken: string | null;
  expiresIn: number;
}

function fromTokens(email: string, tokens: Tokens, previousRefresh: string | null = null): Session {
  return {
    email,
    accessToken: tokens.accessToken,
    refreshToken: tokens.refreshToken || previousRefresh,
    expiresAt: Date.now() + tokens.expiresIn * 1000,
  };
}

function scheduleRenewal(): void {
  window.clearTimeout(renewTimer);
  if (!session || !session.refreshToken) return;
  const wait = Math.max(0, session.expiresAt - Date.now() - RENEW_BEFORE_MS);
  renewTimer = window.setTimeout(() => void renew(), Math.min(wait, 2 ** 31 - 1));
}

/** A new access token from the refresh token; false (and logged out, with the reason) when refused. */
export function renew(): Promise<boolean> {
  if (renewing) return renewing;
  const current = session;
  if (!current || !current.refreshToken) return Promise.resolve(false);
  const attempt = async (): Promise<boolean> => {
    try {
      const tokens = await request<Tokens>("POST", "/auth/refresh", { refreshToken: current.refreshToken }, false);
      setSession(fromTokens(current.email, tokens, current.refreshToken));
      return true;
    } catch (error) {
      if (error instanceof ApiError && error.status === 401) {
        setSession(null, "Your session has expired. Please log in again.");
      } else {
        scheduleRetry();
      }
      return false;
    }
  };
  renewing = attempt().finally(() => {
    renewing = null;
  });
  return renewing;
}

function scheduleRetry(): void {
  window.clearTimeout(renewTimer);
  renewTimer = window.setTimeout(() => void renew(), 15_000); // offline: try again soon
}

export async function login(email: string, password: string): Promise<Session> {
  const tokens = await request<Tokens>("POST", "/auth/login", { email, password }, false);
  const next = fromTokens(email.trim().toLowerCase(), tokens);
  setSession(next);
  return next;
}

export async function signup(email: string, password: string): Promise<Session> {
  await request("POST", "/auth/signup", { email, password }, false);
  return login(email, password);
}

export function logout(): void {
  setSession(null);
}

export function networkMessage(): string {
  return "The network is down or the server cannot be reached. Check your connection and try again.";
}

/** One API call: JSON in and out; a 401 renews the session once; errors become ApiError with a readable message. */
export async function request<T = unknown>(
  method: string,
  path: string,
  body?: unknown,
  authorized = true,
  extra: RequestInit = {},
): Promise<T> {
  if (authorized && session && session.expiresAt - Date.now() < 5_000) await renew();
  const attempt = async (): Promise<Response> => {
    const headers: Record<string, string> = {};
    if (body !== undefined) headers["Content-Type"] = "application/json";
    if (authorized && session) headers.Authorization = `Bearer ${session.accessToken}`;
    try {
      return await fetch(config.apiUrl + path, {
        method,
        headers,
        body: body === undefined ? undefined : JSON.stringify(body),
        ...extra,
      });
    } catch (error) {
      if ((error as Error).name === "AbortError") throw error;
      throw new ApiError(0, "NetworkDown", networkMessage());
    }
  };
  let response = await attempt();
  if (response.status === 401 && authorized && session) {
    if (await renew()) response = await attempt();
    else if (session) setSession(null, "Your session has expired. Please log in again.");
  }
  const text = await response.text();
  let parsed: unknown = null;
  try {
    parsed = text ? JSON.parse(text) : null;
  } catch {
    parsed = text;
  }
  if (!response.ok) throw toError(response.status, parsed);
  return parsed as T;
}

function toError(status: number, body: unknown): ApiError {
  const error = (body as { error?: { code?: string; message?: string; field?: string } } | null)?.error;
  const code = error?.code || `HTTP${status}`;
  let message = error?.message || `The server answered ${status}.`;
  if (error?.field && !message.includes(error.field)) message += ` (${error.field})`;
  if (status === 401 && !message.toLowerCase().includes("password")) {
    message = "Your session has expired. Please log in again.";
  } else if (status === 403) {
    message = `Not allowed: ${message}`;
  } else if (status === 503 || status >= 500) {
    message = `The service is unavailable right now (${status}). Please try again in a moment.`;
  }
  return new ApiError(status, code, message);
}

export function describe(error: unknown): string {
  if (error instanceof ApiError) return error.message;
  if (error instanceof Error) return error.message;
  return String(error);
}

scheduleRenewal();
