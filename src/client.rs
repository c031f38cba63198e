//! Node-API bindings of the Rust client (`crates/client`). Translation only:
//! `lib/connect.js` wraps these in a Node `Duplex`.

use std::collections::HashMap;

use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::{Arc, Mutex};

use http2_duplex_client as client;
use napi::bindgen_prelude::{Buffer, Env};
use napi::threadsafe_function::{ThreadsafeFunction, ThreadsafeFunctionCallMode};
use napi::Status;
use napi_derive::napi;

/// Options of `ClientPool.open`.
#[napi(object)]
pub struct ClientOpenOptions {
    /// PEM certificates trusted instead of the default roots.
    pub ca: Option<String>,
    /// Check the server's certificate (default true).
    pub reject_unauthorized: Option<bool>,
    /// Extra headers sent on every request of the duplex.
    pub headers: Option<HashMap<String, String>>,
    /// 'auto' (default), 'websocket' or 'streaming' ('fetch', 7.0.0's name).
    pub transport: Option<String>,
    /// Offer resume (http2-duplex.2, over a WebSocket or a tunnel).
    pub resume: Option<bool>,
}

/// Why opening or using a duplex failed; `lib/connect.js` builds the JS
/// error from it by its `kind`.
#[napi(discriminant = "kind", discriminant_case = "lowercase")]
pub enum ClientFailure {
    /// The server answered outside 2xx (the GET, or later the streaming
    /// POST): a `ResponseError`, whose code comes from `headers`.
    Response {
        status: u32,
        status_text: String,
        headers: HashMap<String, String>,
    },
    /// Anything else: an `Error` with this stable code.
    Error { code: String, message: String },
}

impl From<client::Error> for ClientFailure {
    fn from(err: client::Error) -> Self {
        match err {
            client::Error::Status {
                status,
                status_text,
                headers,
            } => {
                let mut map = HashMap::<String, String>::new();
                for (name, value) in &headers {
                    let value = String::from_utf8_lossy(value.as_bytes());
                    map.entry(name.as_str().to_owned())
                        .and_modify(|v| {
                            v.push_str(", ");
                            v.push_str(&value);
                        })
                        .or_insert_with(|| value.into_owned());
                }
                ClientFailure::Response {
                    status: status.into(),
                    status_text,
                    headers: map,
                }
            }
            err => ClientFailure::Error {
                code: err.code().as_str().to_owned(),
                message: err.to_string(),
            },
        }
    }
}

/// What `ClientPool.open` resolves with.
#[napi(
    discriminant = "kind",
    discriminant_case = "lowercase",
    object_from_js = false
)]
pub enum ClientOpened {
    Duplex { duplex: ClientDuplex },
    Failed { failure: ClientFailure },
}

/// What `ClientDuplex.read` resolves with.
#[napi(discriminant = "kind", discriminant_case = "lowercase")]
pub enum ClientRead {
    /// All data available now.
    Data {
        chunk: Buffer,
    },
    /// The server ended its side.
    End,
    Failed {
        failure: ClientFailure,
    },
}

/// A resume of the duplex: its `'resumed'` event.
#[napi(object)]
pub struct ClientResumed {
    /// The attempt that resumed it, counted from 1 per detachment.
    pub attempt: u32,
    /// Ms from the detachment to the resume.
    pub downtime: f64,
}

/// What `write`, `end` and `closed` resolve with.
#[napi(discriminant = "kind", discriminant_case = "lowercase")]
pub enum ClientDone {
    Done,
    Failed { failure: ClientFailure },
}

impl From<Result<(), client::Error>> for ClientDone {
    fn from(result: Result<(), client::Error>) -> Self {
        match result {
            Ok(()) => ClientDone::Done,
            Err(err) => ClientDone::Failed {
                failure: err.into(),
            },
        }
    }
}

/// A connection pool: duplexes opened through one pool to one origin share
/// one HTTP/2 connection.
#[napi]
pub struct ClientPool {
    inner: client::Client,
}

impl Default for ClientPool {
    fn default() -> Self {
        Self::new()
    }
}

#[napi]
impl ClientPool {
    #[napi(constructor)]
    pub fn new() -> Self {
        ClientPool {
            inner: client::Client::new(),
        }
    }

    /// Live HTTP/2 connections of this pool.
    #[napi(getter)]
    pub fn connections(&self) -> u32 {
        self.inner.connections() as u32
    }

    /// Open a duplex; resolves with the duplex or with why it failed.
    #[napi]
    pub async fn open(&self, url: String, options: Option<ClientOpenOptions>) -> ClientOpened {
        let options = match options {
            None => client::Options::default(),
            Some(o) => {
                let transport = match o
                    .transport
                    .as_deref()
                    .map(str::parse::<client::Transport>)
                    .transpose()
                {
                    Ok(transport) => transport.unwrap_or_default(),
                    Err(err) => {
                        return ClientOpened::Failed {
                            failure: err.into(),
                        }
                    }
                };
                client::Options {
                    ca: o.ca.map(String::into_bytes),
                    reject_unauthorized: o.reject_unauthorized.unwrap_or(true),
                    headers: o.headers.unwrap_or_default().into_iter().collect(),
                    transport,
                    resume: o.resume.unwrap_or(false),
                }
            }
        };
        match self.inner.open(&url, &options).await {
            Ok(inner) => ClientOpened::Duplex {
                duplex: ClientDuplex {
                    inner,
                    on_read: None,
                },
            },
            Err(err) => ClientOpened::Failed {
                failure: err.into(),
            },
        }
    }
}

/// The JS function that takes the reads `readNow` could not give at once.
/// Weak: it keeps Node alive only while such a read is outstanding (see
/// `ReadCallback::outstanding`).
type ReadFn = ThreadsafeFunction<ClientRead, (), ClientRead, Status, false, true>;

struct ReadCallback {
    function: Mutex<ReadFn>,
    /// Reads handed to the runtime and not yet delivered; only touched on
    /// the JS thread. The function is referenced while this is above zero,
    /// as a pending promise would keep Node alive.
    outstanding: AtomicU32,
}

impl ReadCallback {
    /// Whether the function keeps Node alive. JS thread only.
    fn set_referenced(&self, env: &Env, referenced: bool) -> napi::Result<()> {
        let function = self.function.lock().unwrap();
        if function.aborted() {
            return Ok(());
        }
        let raw = function.handle.get_raw();
        // SAFETY: called on the JS thread (from a method call or a
        // threadsafe-function callback) with a function that is not
        // aborted, i.e. not released.
        let status = unsafe {
            if referenced {
                napi::sys::napi_ref_threadsafe_function(env.raw(), raw)
            } else {
                napi::sys::napi_unref_threadsafe_function(env.raw(), raw)
            }
        };
        napi::check_status!(status)
    }
}

#[napi]
pub struct ClientDuplex {
    inner: client::Duplex,
    on_read: Option<Arc<ReadCallback>>,
}

fn client_read(read: Result<Option<client::Bytes>, client::Error>) -> ClientRead {
    match read {
        Ok(Some(bytes)) => ClientRead::Data {
            chunk: Buffer::from(Vec::from(bytes)),
        },
        Ok(None) => ClientRead::End,
        Err(err) => ClientRead::Failed {
            failure: err.into(),
        },
    }
}

#[napi]
impl ClientDuplex {
    #[napi(getter)]
    pub fn id(&self) -> String {
        self.inner.id().to_string()
    }

    /// 'websocket' or 'streaming' (a tunnel's carrier too); may change
    /// when a resumable duplex is resumed.
    #[napi(getter)]
    pub fn transport(&self) -> String {
        self.inner.transport().as_str().to_string()
    }

    /// Whether the duplex goes through a tunnel (http2-duplex.2 over the
    /// streaming transport) now.
    #[napi(getter)]
    pub fn tunnel(&self) -> bool {
        self.inner.tunnel()
    }

    /// Whether the server selected resume (http2-duplex.2).
    #[napi(getter)]
    pub fn resumable(&self) -> bool {
        self.inner.resumable()
    }

    /// The next resume after the first `seen` ones; null once the duplex
    /// is over (at once when it is not resumable).
    #[napi]
    pub async fn resumed(&self, seen: u32) -> Option<ClientResumed> {
        let (attempt, downtime) = self.inner.resumed(seen as usize).await?;
        Some(ClientResumed {
            attempt,
            downtime: downtime as f64,
        })
    }

    /// All data available now (waiting for some), or null at the end.
    /// Calling it again releases the flow-control capacity of the last batch.
    #[napi]
    pub async fn read(&self) -> ClientRead {
        client_read(self.inner.read().await)
    }

    /// Sets the function that takes what `readNow` cannot give at once.
    #[napi(ts_args_type = "callback: (read: ClientRead) => void")]
    pub fn on_read(&mut self, callback: ReadFn) {
        self.on_read = Some(Arc::new(ReadCallback {
            function: Mutex::new(callback),
            outstanding: AtomicU32::new(0),
        }));
    }

    /// The next read (as `read` resolves with it) if it is there now;
    /// otherwise null, and the `onRead` function gets it once it comes.
    /// Like `read`, calling it releases the flow-control capacity of the
    /// last batch. One at a time: call it again only after the previous
    /// read was delivered.
    #[napi]
    pub fn read_now(&self, env: Env) -> napi::Result<Option<ClientRead>> {
        if let Some(read) = self.inner.try_read() {
            return Ok(Some(client_read(read)));
        }
        let Some(callback) = self.on_read.clone() else {
            return Err(napi::Error::from_reason("readNow before onRead"));
        };
        if callback.outstanding.fetch_add(1, Ordering::Relaxed) == 0 {
            callback.set_referenced(&env, true)?;
        }
        let inner = self.inner.clone();
        napi::bindgen_prelude::spawn(async move {
            let read = client_read(inner.read().await);
            let delivered = callback.clone();
            let function = callback.function.lock().unwrap();
            function.call_with_return_value(
                read,
                ThreadsafeFunctionCallMode::NonBlocking,
                move |_, env| {
                    if delivered.outstanding.fetch_sub(1, Ordering::Relaxed) == 1 {
                        delivered.set_referenced(&env, false)?;
                    }
                    Ok(())
                },
            );
        });
        Ok(None)
    }

    /// Hands all of `chunk` to HTTP/2 now if flow control (and the
    /// WebSocket's credit) let it go without waiting; false (nothing sent)
    /// otherwise: then `write` sends it, or says why it cannot.
    #[napi]
    pub fn try_write(&self, chunk: &[u8]) -> bool {
        self.inner.try_write(chunk)
    }

    /// Resolves once HTTP/2 flow control has let all of `chunks` go. The
    /// bytes are copied once, into one buffer the network side owns.
    #[napi]
    pub async fn write(&self, chunks: Vec<Buffer>) -> ClientDone {
        let mut data = Vec::with_capacity(chunks.iter().map(|chunk| chunk.len()).sum());
        for chunk in &chunks {
            data.extend_from_slice(chunk);
        }
        drop(chunks);
        self.inner.write(client::Bytes::from(data)).await.into()
    }

    /// Ends the writable side; resolves when the server answered the POST.
    #[napi]
    pub async fn end(&self) -> ClientDone {
        self.inner.end().await.into()
    }

    /// Resolves when the duplex is over: done (finished or destroyed), or
    /// failed.
    #[napi]
    pub async fn closed(&self) -> ClientDone {
        match self.inner.closed().await {
            None => ClientDone::Done,
            Some(err) => ClientDone::Failed {
                failure: err.into(),
            },
        }
    }

    #[napi]
    pub fn destroy(&self) {
        self.inner.destroy();
    }
}

/// The tokio runtime of the Node client (`connect()`): one worker thread.
/// The client's work per message is small (h2 framing, TLS of a few bytes)
/// and its tasks (the connection, each duplex's reader and writer) wake each
/// other for every message: with several workers each wake also wakes an
/// idle worker to steal it, and the tasks contend for the same locks from
/// different threads. On loopback that cost more than it gave (a 64 B round
/// trip used 190 µs of client CPU with 2 workers, 157 µs with one), and one
/// worker also kept up better in echo throughput; the JS thread is the
/// other busy thread anyway.
#[napi_derive::module_init]
fn init() {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .thread_name("http2-duplex-client")
        .enable_all()
        .build()
        .expect("the client's tokio runtime");
    napi::bindgen_prelude::create_custom_tokio_runtime(runtime);
}
