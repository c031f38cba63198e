// Generated from the #[napi] items of src/*.rs by `npm run native:types`; do not edit.
// The exports of the Rust addon, as lib/native.js loads it.

/** What `write`, `end` and `closed` resolve with. */
export type ClientDone =
  | { kind: 'done' }
  | { kind: 'failed'; failure: ClientFailure }

export declare class ClientDuplex {
  get id(): string
  /**
   * 'websocket' or 'streaming' (a tunnel's carrier too); may change
   * when a resumable duplex is resumed.
   */
  get transport(): string
  /**
   * Whether the duplex goes through a tunnel (http2-duplex.2 over the
   * streaming transport) now.
   */
  get tunnel(): boolean
  /** Whether the server selected resume (http2-duplex.2). */
  get resumable(): boolean
  /**
   * The next resume after the first `seen` ones; null once the duplex
   * is over (at once when it is not resumable).
   */
  resumed(seen: number): Promise<ClientResumed | null>
  /**
   * All data available now (waiting for some), or null at the end.
   * Calling it again releases the flow-control capacity of the last batch.
   */
  read(): Promise<ClientRead>
  /** Sets the function that takes what `readNow` cannot give at once. */
  onRead(callback: (read: ClientRead) => void): void
  /**
   * The next read (as `read` resolves with it) if it is there now;
   * otherwise null, and the `onRead` function gets it once it comes.
   * Like `read`, calling it releases the flow-control capacity of the
   * last batch. One at a time: call it again only after the previous
   * read was delivered.
   */
  readNow(): ClientRead | null
  /**
   * Hands all of `chunk` to HTTP/2 now if flow control (and the
   * WebSocket's credit) let it go without waiting; false (nothing sent)
   * otherwise: then `write` sends it, or says why it cannot.
   */
  tryWrite(chunk: Uint8Array): boolean
  /**
   * Resolves once HTTP/2 flow control has let all of `chunks` go. The
   * bytes are copied once, into one buffer the network side owns.
   */
  write(chunks: Array<Buffer>): Promise<ClientDone>
  /** Ends the writable side; resolves when the server answered the POST. */
  end(): Promise<ClientDone>
  /**
   * Resolves when the duplex is over: done (finished or destroyed), or
   * failed.
   */
  closed(): Promise<ClientDone>
  destroy(): void
}

/**
 * Why opening or using a duplex failed; `lib/connect.js` builds the JS
 * error from it by its `kind`.
 */
export type ClientFailure =
  | { kind: 'response'; status: number; statusText: string; headers: Record<string, string> }
  | { kind: 'error'; code: string; message: string }

/** Options of `ClientPool.open`. */
export interface ClientOpenOptions {
  /** PEM certificates trusted instead of the default roots. */
  ca?: string
  /** Check the server's certificate (default true). */
  rejectUnauthorized?: boolean
  /** Extra headers sent on every request of the duplex. */
  headers?: Record<string, string>
  /** 'auto' (default), 'websocket' or 'streaming' ('fetch', 7.0.0's name). */
  transport?: string
  /** Offer resume (http2-duplex.2, over a WebSocket or a tunnel). */
  resume?: boolean
}

/** What `ClientPool.open` resolves with. */
export type ClientOpened =
  | { kind: 'duplex'; duplex: ClientDuplex }
  | { kind: 'failed'; failure: ClientFailure }

/**
 * A connection pool: duplexes opened through one pool to one origin share
 * one HTTP/2 connection.
 */
export declare class ClientPool {
  constructor()
  /** Live HTTP/2 connections of this pool. */
  get connections(): number
  /** Open a duplex; resolves with the duplex or with why it failed. */
  open(url: string, options?: ClientOpenOptions | undefined | null): Promise<ClientOpened>
}

/** What `ClientDuplex.read` resolves with. */
export type ClientRead =
  | { kind: 'data'; chunk: Buffer }
  | { kind: 'end' }
  | { kind: 'failed'; failure: ClientFailure }

/** A resume of the duplex: its `'resumed'` event. */
export interface ClientResumed {
  /** The attempt that resumed it, counted from 1 per detachment. */
  attempt: number
  /** Ms from the detachment to the resume. */
  downtime: number
}

/** A duplex whose GET a closed connection carried. */
export interface ClosedSessionDuplex {
  duplex: number
  /** It pairs beyond its connection (a scope other than the session). */
  widerScope: boolean
  /** The server had ended its writable side. */
  serverEnded: boolean
}

/** The core's answer for one request. */
export type CorsAnswer =
  | { kind: 'same-origin' }
  | { kind: 'ask' }
  | { kind: 'allowed'; headers: Record<string, string> }
  | { kind: 'preflight'; headers: Record<string, string> }
  | { kind: 'refused'; refusal: Refusal }

export declare class CorsPolicy {
  /** `origins`: the allowed origins, or null when the application decides. */
  constructor(origins: Array<string> | undefined | null, checkOrigin: boolean, credentials: boolean, maxAge: number)
  decide(method: string, origin?: string | undefined | null, authority?: string | undefined | null, requestHeaders?: string | undefined | null, applicationAllows?: boolean | undefined | null): CorsAnswer
}

/** The protocol headers a page on another origin may read (CORS). */
export declare const EXPOSED_HEADERS: string

export interface EffectiveLimits {
  maxDuplexesPerSession: number
  maxDuplexesPerConnection: number
  maxDuplexes: number
  window: number
  windowBytes: number
  maxHeldBytesPerSession: number
  maxHeldBytesPerConnection: number
  maxHeldBytes: number
  maxWriteBytes: number
}

/**
 * The bytes that start every GET body, and the frame that ends a framed
 * one (docs/protocol.md).
 */
export interface GetBody {
  preamble: Buffer
  end: Buffer
}

/**
 * Limits, all optional (the core's defaults apply). Checked by
 * `checkOption` first: integers within range.
 */
export interface Limits {
  maxDuplexesPerSession?: number
  maxDuplexesPerConnection?: number
  maxDuplexes?: number
  window?: number
  windowBytes?: number
  maxHeldBytesPerSession?: number
  maxHeldBytesPerConnection?: number
  maxHeldBytes?: number
  maxWriteBytes?: number
  /** Ms without traffic after which a duplex ends (0, the default, is off). */
  idleTimeout?: number
  /** Ms a POST still open when its duplex closes stays open. */
  closeTimeout?: number
  /** Ms of silence on a framed GET body before a PING frame (0 is off). */
  keepaliveInterval?: number
}

/** A GET or WebSocket that asked to open a duplex. */
export type Opened =
  | { kind: 'opened'; key: number; id: string; framed: boolean; watched: boolean; headers: Record<string, string>; /**
   * The GET is a tunnel's carrier (`key`, `id`), and this the duplex
   * it carries.
   */
  tunnelled?: Tunnelled }
  | { kind: 'refused'; refusal: Refusal }

/** What the GET+POST adapter does, in order (`core::get_post::Action`). */
export type PostAction =
  | { kind: 'deliver'; duplex: number; data: Buffer }
  | { kind: 'pause'; post: number }
  | { kind: 'resume'; post: number }
  | { kind: 'answer-when-taken'; post: number }
  | { kind: 'answer'; post: number; status: number; code?: string }
  | { kind: 'refuse'; post: number; refusal: Refusal }
  | { kind: 'fail'; duplex: number; refusal: Refusal; warn: boolean }
  | { kind: 'end'; duplex: number }
  | { kind: 'write'; duplex: number; data: Buffer }
  | { kind: 'send-ack'; duplex: number }
  | { kind: 'close-get'; duplex: number }
  | { kind: 'end-writable'; duplex: number }
  | { kind: 'destroy-with-get-error'; duplex: number }
  | { kind: 'end-get'; duplex: number }
  | { kind: 'reset-get'; duplex: number }
  | { kind: 'close-post'; post: number }

/** A POST's key, the duplex it writes to (none when refused), and what to do first. */
export interface PostOpened {
  post: number
  duplex?: number
  /**
   * The body's end is final when it comes (its length was declared);
   * otherwise judge it a turn later, once a reset would have closed the stream.
   */
  endIsFinal: boolean
  actions: Array<PostAction>
}

/**
 * A refusal of the core: answer `status` (none for a reset stream) with
 * `code` in `http2-duplex-error`; warn unless `quiet`.
 */
export interface Refusal {
  code: string
  status?: number
  message: string
  quiet: boolean
}

export declare class Registry {
  /** `session_scoped`: each HTTP/2 session is its own pairing scope. */
  constructor(limits: Limits, sessionScoped: boolean)
  limits(): EffectiveLimits
  /** Names this node (ids become `<node>.<uuid>`); `Some(message)` if invalid. */
  setNodeId(node: string): string | null
  /** A key for a new client connection (HTTP/2 session or HTTP/1.1 socket). */
  connectionKey(): number
  openScope(): number
  /** Forgets a scope; returns the keys of the duplexes that were open in it. */
  closeScope(scope: number): Array<number>
  /**
   * A GET on `connection` opens a duplex in `scope` at `now` (ms, the
   * caller's clock); `framing` is its `http2-duplex-framing` header,
   * `tunnel` its `http2-duplex-tunnel`; `resumes`: the server offers
   * resume (a tunnel carries only the subprotocol with resume).
   */
  openDuplex(scope: number, connection: number, framing: string | undefined | null, tunnel: string | undefined | null, resumes: boolean, now: number): Opened
  /**
   * A WebSocket opens a duplex at `now`; `protocols` is its
   * `sec-websocket-protocol`; `resumes`: the server offers resume.
   */
  openWebSocket(scope: number, connection: number, protocols: string | undefined | null, resumes: boolean, now: number): Opened
  /** A POST arrived in `scope` with these protocol headers. */
  handlePost(scope: number, id?: string | undefined | null, seq?: string | undefined | null, single?: string | undefined | null, end?: string | undefined | null, destroyed?: string | undefined | null, contentLength?: string | undefined | null): PostOpened
  /**
   * A piece of the POST's body. null: push this very buffer into the
   * duplex (the fast path: no copy, no allocation); otherwise the actions.
   */
  handlePiece(post: number, data: Uint8Array): Array<PostAction> | null
  /**
   * The POST's body ended; `reset` when the client reset it first,
   * `session_gone` when its connection went away under it.
   */
  handleBodyEnd(post: number, reset: boolean, sessionGone: boolean): Array<PostAction>
  /** The POST's stream closed; `session_gone` when its connection went away. */
  handlePostClosed(post: number, sessionGone: boolean): Array<PostAction>
  /** The duplex closed at `now` (ms, the caller's clock). */
  handleDuplexClosed(duplex: number, now: number): Array<PostAction>
  /**
   * The duplex's GET stream closed with `rst_code`; `error_code`: the
   * code of the error it was destroyed with (`""` for an error without
   * one), if any; `server_ended`: its response had ended; `session_gone`:
   * its session is destroyed (its own close decides); `duplex_done`: both
   * directions were done.
   */
  handleGetClosed(duplex: number, rstCode: number, errorCode: string | undefined | null, serverEnded: boolean, sessionGone: boolean, duplexDone: boolean): Array<PostAction>
  /**
   * The duplex was destroyed (`failed`: with an error): how its GET stream
   * ends; `framed`: its body is framed; `server_ended`: the response was
   * ended; `stream_gone`: the stream was destroyed already.
   */
  handleDuplexDestroyed(duplex: number, framed: boolean, serverEnded: boolean, streamGone: boolean, failed: boolean): Array<PostAction>
  /**
   * The connection carrying these duplexes' GETs closed; `errored`: it had
   * an error; `goaway_codes`: the GOAWAYs it received. Answers `end` or
   * `fail` for each duplex that does not live on.
   */
  handleSessionClosed(errored: boolean, goawayCodes: Array<number>, duplexes: Array<ClosedSessionDuplex>): Array<PostAction>
  /** When (ms) `handleTimeout` is next due for POSTs, if at all. */
  nextTimeout(): number | null
  handleTimeout(now: number): Array<PostAction>
  /**
   * How often to call `handleTick` while a duplex is watched; none when
   * neither the idle timeout nor the keep-alives are on.
   */
  tickInterval(): number | null
  /**
   * The periodic check at `now`: `active` saw traffic and `written` had
   * their GET body written to since the last one. Answers with the
   * duplexes idle for the timeout (`fail`) and the keep-alives (`write`).
   */
  handleTick(now: number, active: Array<number>, written: Array<number>): Array<PostAction>
  /**
   * An HTTP/2 session, or an HTTP/1.1 WebSocket's socket (its connection
   * key), first seen at `now`. Returns whether it is watched:
   * `handleSessionTick` must run every `tickInterval()` ms until
   * `unwatchSession`.
   */
  watchSession(session: number, now: number): boolean
  unwatchSession(session: number): void
  /**
   * The connections' periodic check at `now`: `heard` received something
   * since the last one. Answers `ping` for the silent ones and `destroy`
   * for those whose PING went unanswered.
   */
  handleSessionTick(now: number, heard: Array<number>): Array<SessionAction>
  stats(): Stats
}

/** What a request on the duplex path asks for. */
export type RequestClass =
  | { kind: 'open' }
  | { kind: 'websocket' }
  | { kind: 'post' }
  | { kind: 'refused'; refusal: Refusal }

/** What the adapter of `duplex` must do, in order. */
export type ResumeAction =
  | { kind: 'drop'; duplex: number; bytes: number }
  | { kind: 'hold'; duplex: number }
  | { kind: 'flow'; duplex: number }
  | { kind: 'ack'; duplex: number; count: number }
  | { kind: 'close-transport'; duplex: number }
  | { kind: 'resumed'; duplex: number; downtimeMs: number }
  | { kind: 'resend'; duplex: number; from: number; end: boolean }
  | { kind: 'complete'; duplex: number }
  | { kind: 'fail'; duplex: number; refusal: Refusal }

/** The answer to a resume request. */
export type ResumeAnswer =
  | { kind: 'accepted'; duplex: number; received: number; actions: Array<ResumeAction> }
  | { kind: 'refused'; refusal: Refusal }

export declare class ResumeServer {
  /**
   * `resume_buffer` bytes per duplex and direction, within
   * `max_bytes_per_connection` for the duplexes one connection opened
   * and `max_bytes` for all; a detached duplex waits `resume_timeout_ms`.
   */
  constructor(resumeBuffer: number, resumeTimeoutMs: number, maxBytesPerConnection: number, maxBytes: number)
  /**
   * A duplex opened with resume on `connection` (the registry's key):
   * its secret, for the answer to `open`.
   */
  open(duplex: number, id: string, connection: number): string
  /** Bytes the duplex may take into its resume buffer now. */
  room(duplex: number): number
  /** The last count acknowledged to the client (the keep-alive's ack). */
  ackedToPeer(duplex: number): number | null
  /** The application wrote `n` bytes (at most `room()`). */
  handleWrite(duplex: number, n: number): Array<ResumeAction>
  handleEnd(duplex: number): void
  /** `n` bytes of the client's direction were taken from the transport. */
  handleData(duplex: number, n: number, now: number): Array<ResumeAction>
  handlePeerEnd(duplex: number, now: number): Array<ResumeAction>
  handleAck(duplex: number, count: number, now: number): Array<ResumeAction>
  /** The duplex's WebSocket failed without a Close: it waits for its client. */
  handleTransportFailed(duplex: number, now: number): void
  /** A client's `resume id secret count`. */
  handleResume(id: string, secret: string, count: number, now: number): ResumeAnswer
  /**
   * The duplex is gone: a resume of it is refused as unknown; the
   * duplexes its buffer left room for flow.
   */
  remove(duplex: number): Array<ResumeAction>
  /** When `handleTimeout` is next due, if ever. */
  pollTimeout(): number | null
  handleTimeout(now: number): Array<ResumeAction>
}

/**
 * What a check of the client connections (HTTP/2 sessions, HTTP/1.1
 * WebSockets' sockets) asks of the server.
 */
export type SessionAction =
  | { kind: 'ping'; session: number }
  | { kind: 'destroy'; session: number; refusal: Refusal }

export interface Stats {
  sessions: number
  duplexes: number
  heldBytes: number
  writesInFlight: number
}

/**
 * The duplex a tunnel carries (docs/protocol.md "Resume on the fetch
 * paths"): a WebSocket duplex of the subprotocol `protocol` whose stream
 * is the carrier.
 */
export interface Tunnelled {
  key: number
  id: string
  watched: boolean
  protocol: string
}

/** What the WebSocket transport must do, in order. */
export type WsAction =
  | { kind: 'deliver'; data: Buffer }
  | { kind: 'end' }
  | { kind: 'send'; data: Buffer }
  | { kind: 'credit' }
  | { kind: 'ack'; count: number }
  | { kind: 'open' }
  | { kind: 'resume'; id: string; secret: string; received: number }
  | { kind: 'finished'; closeCode?: number; refusal?: Refusal; detached: boolean }
  | { kind: 'end-stream'; refusal?: Refusal }
  | { kind: 'end-stream-after'; ms: number }
  | { kind: 'detach' }

export declare class WsEndpoint {
  constructor(maxMessage: number, window: number)
  open(id?: string | undefined | null): Array<WsAction>
  /**
   * Speak http2-duplex.2 (the answer selected it): the client's first
   * message opens or resumes a duplex.
   */
  setResumable(): void
  /** Answer `open`: the duplex's id, its secret and the resume options. */
  sendResumable(id: string, secret: string, resumeBuffer: number, resumeTimeoutMs: number, keepaliveMs: number): Array<WsAction>
  /**
   * Answer `resume`: the server's count received, and the credit the
   * window leaves beside the `held` bytes the duplex's reader holds.
   */
  sendResumed(received: number, held: number): Array<WsAction>
  /** Refuse a resume with a Close naming `code` (one of the resume codes). */
  refuseResume(code: string): Array<WsAction>
  sendAck(count: number): Array<WsAction>
  /** The duplex is complete: close the WebSocket with 1000. */
  complete(): Array<WsAction>
  receive(input: Uint8Array): Array<WsAction>
  /**
   * The duplex's readable side still buffers `buffered` bytes: what the
   * reader took since goes back as credit.
   */
  handleRead(buffered: number): Array<WsAction>
  /**
   * The client's side of the stream ended (END_STREAM, or a TCP
   * half-close); `stream_closed`: the stream had closed by then.
   */
  handlePeerEnded(streamClosed: boolean): Array<WsAction>
  /**
   * The stream closed (reset, or its session went) with `rst_code`; null:
   * the connection of an HTTP/1.1 WebSocket closed.
   */
  handleStreamClosed(rstCode?: number | undefined | null): Array<WsAction>
  /**
   * The duplex was destroyed (`failed`: with an error); `writes_done`: all
   * its writes were done; `stream_ended`, `stream_gone`: its stream's
   * writable side had ended, it was destroyed.
   */
  handleDestroyed(failed: boolean, writesDone: boolean, streamEnded: boolean, streamGone: boolean): Array<WsAction>
  sendCredit(): number
  /**
   * The header of a binary frame of `len` bytes, counted as sent; null
   * beyond the credit.
   */
  dataHeader(len: number): Buffer | null
  /**
   * The keep-alive's Ping for an HTTP/1.1 WebSocket whose connection was
   * silent (the server's session check asked for it).
   */
  ping(): Array<WsAction>
  end(): Array<WsAction>
}

/** `Err(message)` when `value` is out of range for the numeric option `name`. */
export declare function checkOption(name: string, value: number): string | null

/**
 * `websockets`: how the connection can carry a WebSocket, "extended-connect"
 * (an HTTP/2 session offering RFC 8441), "upgrade" (an HTTP/1.1 upgrade the
 * server may take) or null.
 */
export declare function classifyRequest(method: string, protocol?: string | undefined | null, upgrade?: string | undefined | null, websocketKey?: string | undefined | null, websocketVersion?: string | undefined | null, websockets?: string | undefined | null): RequestClass

/** The header of a DATA frame carrying a write of `len` bytes. */
export declare function dataHeader(len: number): Buffer

/** The table of error codes, for tests that compare it with lib/error-codes.js. */
export declare function errorCodes(): Array<string>

export declare function getBody(): GetBody

/**
 * The path a request's target names: a resume's `?resume=<id>` query
 * still names the duplex path.
 */
export declare function requestPath(target: string): string

/** The `sec-websocket-accept` answering an HTTP/1.1 WebSocket's key (RFC 6455 §4.2.2). */
export declare function websocketAccept(key: string): string
