// Live STT, TTS and Flux sessions through Deepgram's JS SDK (v5), shared by the Node test and the
// browser test's page (served as an ES module, with the page's `Deepgram` global as `sdk`).
// Each returns what arrived; the callers assert on it. Nothing here imports Node modules.

/** 100 ms of 16 kHz mono linear16 silence. */
export const CHUNK_BYTES = 3200;

function timeout(ms, what, reject) {
  return setTimeout(() => reject(new Error(`timed out after ${ms} ms: ${what}`)), ms);
}

/**
 * Runs one session: connect, wait for open, `drive(conn, summary)`, collect every message with
 * `onMessage(message, conn, summary)` until the socket closes. Resolves with the summary.
 */
async function run(connectPromise, summary, drive, onMessage, ms) {
  const conn = await connectPromise;
  return await new Promise((resolve, reject) => {
    const timer = timeout(ms, `${summary.kind} session to close`, reject);
    conn.on("message", (message) => {
      try {
        onMessage(message, conn, summary);
      } catch (error) {
        clearTimeout(timer);
        reject(error);
      }
    });
    conn.on("error", (error) => {
      summary.errors.push(String(error?.message ?? error));
    });
    conn.on("close", (event) => {
      clearTimeout(timer);
      summary.close_code = event?.code ?? null;
      summary.close_reason = event?.reason ?? "";
      resolve(summary);
    });
    conn.connect();
    conn
      .waitForOpen()
      .then((socket) => {
        summary.opened = true;
        summary.protocol = socket?.protocol ?? conn.socket?.protocol ?? "";
        return drive(conn, summary);
      })
      .catch((error) => {
        clearTimeout(timer);
        reject(error instanceof Error ? error : new Error(String(error?.message ?? error)));
      });
  });
}

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

/** Live STT (/v1/listen): ~2 s of silence, Finalize, CloseStream; Results until the close. */
export function listenV1(client, { seconds = 2, ms = 20_000 } = {}) {
  const summary = {
    kind: "listen-v1",
    opened: false,
    protocol: "",
    interim: 0,
    finals: 0,
    from_finalize: 0,
    text: [],
    metadata: false,
    errors: [],
    close_code: null,
    close_reason: "",
  };
  const connect = client.listen.v1.connect({
    model: "nova-3",
    encoding: "linear16",
    sample_rate: 16000,
    interim_results: "true",
    reconnectAttempts: 0,
  });
  return run(
    connect,
    summary,
    async (conn) => {
      for (let i = 0; i < seconds * 10; i++) {
        conn.sendMedia(new Uint8Array(CHUNK_BYTES));
        if (i % 10 === 9) await sleep(0); // let messages in between seconds
      }
      conn.sendKeepAlive({ type: "KeepAlive" });
      conn.sendFinalize({ type: "Finalize" });
      conn.sendCloseStream({ type: "CloseStream" });
    },
    (message, _conn, s) => {
      if (message?.type === "Results") {
        const text = message.channel?.alternatives?.[0]?.transcript ?? "";
        if (message.is_final) {
          s.finals += 1;
          if (message.from_finalize) s.from_finalize += 1;
          if (text) s.text.push(text);
        } else {
          s.interim += 1;
        }
      } else if (message?.type === "Metadata") {
        s.metadata = true;
      }
    },
    ms,
  );
}

/** Byte length of a binary message as the SDK delivers it (Blob, ArrayBuffer or view). */
function binaryLength(message) {
  if (typeof Blob !== "undefined" && message instanceof Blob) return message.size;
  if (message instanceof ArrayBuffer) return message.byteLength;
  if (ArrayBuffer.isView(message)) return message.byteLength;
  return null;
}

/** TTS (/v1/speak): Speak + Flush, audio until Flushed, then Close. */
export function speakV1(client, { text = "Hello from voxrelay.", ms = 20_000 } = {}) {
  const summary = {
    kind: "speak-v1",
    opened: false,
    protocol: "",
    metadata: false,
    audio_bytes: 0,
    audio_messages: 0,
    flushed: false,
    errors: [],
    close_code: null,
    close_reason: "",
  };
  const connect = client.speak.v1.connect({
    model: "aura-2-thalia-en",
    encoding: "linear16",
    sample_rate: 24000,
    reconnectAttempts: 0,
  });
  return run(
    connect,
    summary,
    async (conn) => {
      conn.sendText({ type: "Speak", text });
      conn.sendFlush({ type: "Flush" });
    },
    (message, conn, s) => {
      const bytes = binaryLength(message);
      if (bytes !== null) {
        s.audio_bytes += bytes;
        s.audio_messages += 1;
      } else if (message?.type === "Metadata") {
        s.metadata = true;
      } else if (message?.type === "Flushed") {
        s.flushed = true;
        conn.sendClose({ type: "Close" });
      }
    },
    ms,
  );
}

/** Flux (/v2/listen): ~1 s of silence, CloseStream; Connected and TurnInfo until the close. */
export function listenV2(client, { seconds = 1, ms = 20_000 } = {}) {
  const summary = {
    kind: "listen-v2",
    opened: false,
    protocol: "",
    connected: false,
    turn_infos: 0,
    events: [],
    errors: [],
    close_code: null,
    close_reason: "",
  };
  const connect = client.listen.v2.connect({
    model: "flux-general-en",
    encoding: "linear16",
    sample_rate: 16000,
    reconnectAttempts: 0,
  });
  return run(
    connect,
    summary,
    async (conn) => {
      for (let i = 0; i < seconds * 10; i++) conn.sendMedia(new Uint8Array(CHUNK_BYTES));
      conn.sendCloseStream({ type: "CloseStream" });
    },
    (message, _conn, s) => {
      if (message?.type === "Connected") s.connected = true;
      else if (message?.type === "TurnInfo") {
        s.turn_infos += 1;
        if (message.event && !s.events.includes(message.event)) s.events.push(message.event);
      }
    },
    ms,
  );
}
