/**
 * One check of one URL: HTTP requests with the built-in fetch, redirects
 * followed by hand, and every failure turned into a short reason.
 *
 * Why redirects are followed by hand (`redirect: "manual"`): fetch's own
 * following hides the 301 and where it went, and the report should say
 * "301 -> https://new.example/". It also lets a HEAD stay a HEAD across
 * hops and catches redirect loops by name.
 *
 * Why each request runs under clockwork's `timeout()`: the request runs as
 * a child task, and fetch gets that task's `signal`. When the time is up
 * the child is cancelled, its signal aborts, and fetch drops the socket;
 * the check then reports "timeout after N s". The same happens when the
 * whole program is stopped: cancelling a check cancels its request.
 */
import {
  CancelledError,
  call,
  currentTask,
  routine,
  TimeoutError,
  timeout,
} from "clockwork-microthreads";

/** One redirect that was followed: the URL asked for and the 3xx it answered. */
export interface Hop {
  readonly url: string;
  readonly code: number;
}

/** How a check ended. */
export interface CheckResult {
  /** The URL checked. */
  readonly url: string;
  /** Whether it answered with a 2xx status after following redirects (a page came). */
  readonly ok: boolean;
  /** The final HTTP status; undefined when there was none (refused, timeout, DNS, redirect loop...). */
  readonly code: number | undefined;
  /** Why it is down ("404 Not Found", "timeout after 10 s", "connection refused"...); "" when ok. */
  readonly reason: string;
  /** The redirects followed, in order. */
  readonly redirects: readonly Hop[];
  /** Where the redirects led (the URL itself when there were none). */
  readonly finalUrl: string;
  /** The Content-Type of the last answer ("" when there was none). */
  readonly contentType: string;
  /** The method of the last request: GET when HEAD failed or the body was wanted. */
  readonly method: "HEAD" | "GET";
  /** Seconds from the first request to the end of the last one. */
  readonly latency: number;
  /** The final page's text, when asked for and it was HTML (or CSS, when asked for too). */
  readonly body?: Body;
}

/** A page's text and what it is. */
export interface Body {
  readonly type: "html" | "css";
  readonly text: string;
}

export interface CheckOptions {
  /** Seconds each request may take, body included. */
  readonly timeout: number;
  /**
   * Fetch the page with GET and keep its body (for the crawl) if it is HTML,
   * or also a stylesheet with "html+css"; false: HEAD, no body.
   */
  readonly read: false | "html" | "html+css";
}

const REDIRECTS: ReadonlySet<number> = new Set([301, 302, 303, 307, 308]);
/** As browsers do (Chrome and Firefox stop at 20). */
const MAX_REDIRECTS = 20;
/** A page (or stylesheet) bigger than this is read only so far: enough for any real page's links. */
const MAX_HTML_BYTES = 5 * 1024 * 1024;

/**
 * Checks one URL; never throws for anything the network does (a failure
 * is a result with `ok: false` and a reason). Cancelling the task cancels
 * the request in flight.
 */
export const checkUrl = routine(function* checkUrl(
  url: string,
  options: CheckOptions,
): Generator<unknown, CheckResult, any> {
  const started = performance.now();
  const redirects: Hop[] = [];
  let current = url;
  let method: "HEAD" | "GET" = options.read === false ? "HEAD" : "GET";
  const result = (
    fields: Pick<CheckResult, "ok" | "code" | "reason"> & { contentType?: string; body?: Body },
  ) => {
    const latency = (performance.now() - started) / 1000;
    return {
      url,
      redirects,
      finalUrl: current,
      method,
      latency,
      contentType: "",
      ...fields,
    } as CheckResult;
  };
  try {
    for (;;) {
      method = options.read === false ? "HEAD" : "GET";
      let reply = method === "HEAD" ? yield* tryHead(current, options.timeout) : undefined;
      if (reply === undefined || !(isSuccess(reply.status) || REDIRECTS.has(reply.status))) {
        // HEAD failed: many servers answer it badly (405, 403, 404, 500, a dropped
        // connection) yet serve the page to GET, as browsers ask. Only GET's answer counts.
        method = "GET";
        reply = yield* timeout(options.timeout, request(current, method, options.read));
      }
      if (REDIRECTS.has(reply.status)) {
        if (reply.location === null) {
          return result({
            ok: false,
            code: reply.status,
            reason: `${statusLine(reply)} without a Location header`,
          });
        }
        redirects.push({ url: current, code: reply.status });
        const next = withoutHash(new URL(reply.location, current));
        if (redirects.some((hop) => hop.url === next)) {
          current = next;
          return result({ ok: false, code: undefined, reason: "redirect loop" });
        }
        if (redirects.length > MAX_REDIRECTS) {
          return result({ ok: false, code: undefined, reason: "too many redirects" });
        }
        current = next;
        continue;
      }
      // A 304 (or any other 3xx that is no redirect) to a request that set no condition
      // gives no page: it is not up.
      const ok = isSuccess(reply.status);
      return result({
        ok,
        code: reply.status,
        reason: ok ? "" : statusLine(reply),
        contentType: reply.contentType,
        ...(reply.body === undefined ? {} : { body: reply.body }),
      });
    }
  } catch (error) {
    return result({ ok: false, code: undefined, reason: describeFailure(error, options.timeout) });
  }
});

/**
 * A HEAD request, or undefined when it failed without an answer (a dropped
 * connection, a reset...) so that GET is tried. A timeout is not retried:
 * the check would only wait as long again to learn the same.
 */
const tryHead = routine(function* tryHead(
  url: string,
  seconds: number,
): Generator<unknown, Reply | undefined, any> {
  try {
    return yield* timeout(seconds, request(url, "HEAD", false));
  } catch (error) {
    if (error instanceof TimeoutError || error instanceof CancelledError) throw error;
    return undefined;
  }
});

function isSuccess(status: number): boolean {
  return status >= 200 && status < 300;
}

/** What one request gave. */
interface Reply {
  readonly status: number;
  readonly statusText: string;
  readonly location: string | null;
  readonly contentType: string;
  readonly body?: Body;
}

/**
 * One HTTP request, run as the child task that `timeout()` makes: fetch
 * gets this task's abort signal, so a timeout (or a stop) aborts it.
 */
const request = routine(function* request(
  url: string,
  method: "HEAD" | "GET",
  read: CheckOptions["read"],
): Generator<unknown, Reply, any> {
  const signal = currentTask()?.signal ?? null;
  const response = yield* call(
    fetch(url, {
      method,
      redirect: "manual",
      signal,
      headers: { "user-agent": "linkwatcher (clockwork-microthreads example)", accept: "*/*" },
    }),
  );
  const contentType = response.headers.get("content-type") ?? "";
  const reply = {
    status: response.status,
    statusText: response.statusText,
    location: response.headers.get("location"),
    contentType,
  };
  const type = read === false || !response.ok ? undefined : bodyType(contentType, read);
  if (type !== undefined) {
    return { ...reply, body: { type, text: yield* readText(response, contentType) } };
  }
  // An unread body holds its connection until garbage collection: let it go now.
  yield* call(response.body?.cancel().catch(() => undefined) ?? Promise.resolve());
  return reply;
});

/** What a Content-Type makes of a body: a page to read, a stylesheet with "html+css", or nothing. */
export function bodyType(contentType: string, read: "html" | "html+css"): Body["type"] | undefined {
  if (/^\s*(text\/html|application\/xhtml\+xml)/i.test(contentType)) return "html";
  if (read === "html+css" && /^\s*text\/css/i.test(contentType)) return "css";
  return undefined;
}

/** The body as text, up to MAX_HTML_BYTES, in the charset the server named (UTF-8 if none or unknown). */
const readText = routine(function* readText(
  response: Response,
  contentType: string,
): Generator<unknown, string, any> {
  const body = response.body;
  if (body === null) return "";
  const charset = /charset\s*=\s*"?([\w-]+)/i.exec(contentType)?.[1] ?? "utf-8";
  let decoder: TextDecoder;
  try {
    decoder = new TextDecoder(charset);
  } catch {
    decoder = new TextDecoder("utf-8");
  }
  const reader = body.getReader();
  let text = "";
  let bytes = 0;
  let done = false;
  try {
    while (bytes < MAX_HTML_BYTES) {
      const chunk = yield* call(reader.read());
      if (chunk.done) {
        done = true;
        break;
      }
      bytes += chunk.value.byteLength;
      text += decoder.decode(chunk.value, { stream: true });
    }
    return text + decoder.decode();
  } finally {
    // Stopped early (too big, cancelled): close the stream so the socket is freed.
    if (!done) void reader.cancel().catch(() => undefined);
  }
});

/** "404 Not Found" (the status text from the server, or the standard one). */
function statusLine(reply: Pick<Reply, "status" | "statusText">): string {
  const text = reply.statusText || STATUS_TEXT[reply.status] || "";
  return text === "" ? String(reply.status) : `${reply.status} ${text}`;
}

const STATUS_TEXT: Readonly<Record<number, string>> = {
  300: "Multiple Choices",
  301: "Moved Permanently",
  302: "Found",
  303: "See Other",
  304: "Not Modified",
  307: "Temporary Redirect",
  308: "Permanent Redirect",
  400: "Bad Request",
  401: "Unauthorized",
  403: "Forbidden",
  404: "Not Found",
  405: "Method Not Allowed",
  410: "Gone",
  429: "Too Many Requests",
  500: "Internal Server Error",
  501: "Not Implemented",
  502: "Bad Gateway",
  503: "Service Unavailable",
  504: "Gateway Timeout",
};

/** The URL as a string without its fragment, which never reaches the server. */
export function withoutHash(url: URL): string {
  url.hash = "";
  return url.href;
}

/** Error codes, as Node and undici give them in `error.cause.code`, in a few words. */
const REASONS: Readonly<Record<string, string>> = {
  ECONNREFUSED: "connection refused",
  ECONNRESET: "connection reset",
  EPIPE: "connection reset",
  UND_ERR_SOCKET: "connection closed by the server",
  EHOSTUNREACH: "host unreachable",
  ENETUNREACH: "network unreachable",
  ETIMEDOUT: "connection timed out",
  UND_ERR_CONNECT_TIMEOUT: "connection timed out",
  UND_ERR_HEADERS_TIMEOUT: "no answer (headers timeout)",
  EAI_AGAIN: "DNS lookup failed (temporary failure)",
};

/**
 * Why a request failed, in a few words: "timeout after 10 s", "connection
 * refused", "DNS: host not found (example.invalid)", "TLS: ...". fetch
 * rejects with a bare "fetch failed" TypeError; the real reason is in its
 * `cause` (sometimes an AggregateError when several addresses were tried).
 */
export function describeFailure(error: unknown, timeoutSeconds: number): string {
  if (error instanceof TimeoutError) return `timeout after ${timeoutSeconds} s`;
  for (let e: unknown = error, depth = 0; e != null && depth < 5; depth++) {
    const { code, hostname, errors, message } = e as {
      code?: unknown;
      hostname?: unknown;
      errors?: unknown;
      message?: unknown;
    };
    if (typeof code === "string") {
      if (code === "ENOTFOUND" || code === "EAI_NONAME" || code === "EAI_NODATA") {
        return typeof hostname === "string"
          ? `DNS: host not found (${hostname})`
          : "DNS: host not found";
      }
      const reason = REASONS[code];
      if (reason !== undefined) return reason;
      if (/CERT|SSL|TLS|SELF_SIGNED|UNABLE_TO_VERIFY/.test(code)) return `TLS: ${String(message)}`;
    }
    e = Array.isArray(errors) && errors.length > 0 ? errors[0] : (e as { cause?: unknown }).cause;
  }
  const cause = (error as { cause?: { message?: unknown } } | null)?.cause?.message;
  if (typeof cause === "string" && cause !== "") return cause;
  return error instanceof Error ? error.message : String(error);
}
