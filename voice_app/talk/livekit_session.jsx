/**
 * The hook-based LiveKit pieces of the talk page. They must run inside the session's room
 * context, so they live here rather than in Python; `livekit_components.py` wraps each export
 * as a Reflex component and documents its props and events. Only facts go back to Python
 * (stage, transcript lines, errors, latency, disconnects); Python decides what to say.
 *
 * npm imports (listed in `lib_dependencies` of the wrapper, pinned there):
 * `@livekit/components-react`, `livekit-client`; React comes with Reflex.
 */
import { useEffect, useMemo, useRef } from "react";
import {
  BarVisualizer,
  SessionProvider,
  VideoTrack,
  useAgent,
  useChat,
  useMaybeRoomContext,
  useMediaDeviceSelect,
  useRemoteParticipants,
  useSession,
  useSessionContext,
  useTranscriptions,
} from "@livekit/components-react";
import {
  ConnectionError,
  ConnectionErrorReason,
  DisconnectReason,
  ParticipantEvent,
  ParticipantKind,
  Room,
  RoomEvent,
  TokenSource,
  decodeTokenPayload,
} from "livekit-client";

const SEGMENT_ID = "lk.segment_id";
const TRANSCRIPTION_FINAL = "lk.transcription_final";
const AGENT_STAGES = new Set(["listening", "thinking", "speaking"]);
const AGENT_STATE = "lk.agent.state";
const AGENT_LEFT = /left the room/i;
const ATTRIBUTE_CHANGES = [RoomEvent.ParticipantAttributesChanged];

/**
 * The agent's state, also after the agent was lost and replaced. `useAgent` stays "failed" for
 * the rest of the room once its agent has left; the worker sends a new agent into the same room
 * (a job process that dies is replaced), so the state is then read from the new agent itself.
 */
function useAgentStateAfterLoss(room, agent) {
  const remotes = useRemoteParticipants({ room, updateOnlyOn: ATTRIBUTE_CHANGES });
  const lost = agent.state === "failed" && agent.failureReasons.some((reason) => AGENT_LEFT.test(reason));
  if (!lost) return agent.state;
  const replacement = remotes.find((participant) => participant.kind === ParticipantKind.AGENT);
  return replacement?.attributes?.[AGENT_STATE] ?? "";
}
const PRE_CONNECT_FLUSH_MS = 100;
const SILENCE_CHECK_MS = 1000;

/**
 * Report an agent whose heartbeat stopped. Its worker counts `heartbeatAttribute` up every
 * second; an agent lost with its whole worker stays listed in the room, silent, until LiveKit
 * times its connection out (~20 s). Only agents seen beating are watched, and only while the
 * room is connected (a reconnecting room hears no beats); each silence is reported once.
 */
function useSilentAgentReport(room, heartbeatAttribute, silentAfterMs, handlers) {
  useEffect(() => {
    if (!heartbeatAttribute || !silentAfterMs) return undefined;
    const lastBeat = new Map();
    const reported = new Set();
    const onAttributes = (changed, participant) => {
      if (participant.kind !== ParticipantKind.AGENT || !(heartbeatAttribute in changed)) return;
      lastBeat.set(participant.identity, Date.now());
      reported.delete(participant.identity);
    };
    const onLeft = (participant) => lastBeat.delete(participant.identity);
    const timer = setInterval(() => {
      const now = Date.now();
      for (const [identity, at] of lastBeat) {
        if (room.state !== "connected") {
          lastBeat.set(identity, now);
        } else if (now - at >= silentAfterMs && !reported.has(identity)) {
          reported.add(identity);
          handlers.current.onError?.({ kind: "agent_silent", detail: identity });
        }
      }
    }, SILENCE_CHECK_MS);
    room.on(RoomEvent.ParticipantAttributesChanged, onAttributes);
    room.on(RoomEvent.ParticipantDisconnected, onLeft);
    return () => {
      clearInterval(timer);
      room.off(RoomEvent.ParticipantAttributesChanged, onAttributes);
      room.off(RoomEvent.ParticipantDisconnected, onLeft);
    };
  }, [room, heartbeatAttribute, silentAfterMs, handlers]);
}

/** The latest props, readable from long-lived listeners without re-subscribing them. */
function useLatest(value) {
  const ref = useRef(value);
  useEffect(() => {
    ref.current = value;
  });
  return ref;
}

function tokenExpired(token) {
  try {
    const { exp } = decodeTokenPayload(token);
    return typeof exp === "number" && exp * 1000 <= Date.now();
  } catch {
    return false;
  }
}

/** Why `room.connect` failed, as one of the kinds the Python state knows. */
function connectFailureKind(error, token) {
  if (tokenExpired(token)) return "token_expired";
  if (error instanceof ConnectionError) {
    switch (error.reason) {
      case ConnectionErrorReason.NotAllowed:
        return /expired/i.test(error.message) ? "token_expired" : "token_rejected";
      case ConnectionErrorReason.Cancelled:
        return "cancelled";
      default:
        return "livekit_unreachable";
    }
  }
  return "connect_failed";
}

/**
 * Make the microphone's pre-connect recording keep its last part. livekit-client 2.23 stops the
 * recorder when the agent subscribes, but the recorder's final chunk arrives after its stream is
 * closed and is dropped: up to a second of speech just before the agent started listening was
 * lost. Asking for the data first and stopping a moment later keeps all but what the encoder
 * still holds (100–160 ms on a busy machine; README, "The voice loop").
 */
function keepPreConnectBufferTail(track) {
  if (!track || typeof track.stopPreConnectBuffer !== "function") return;
  const stop = track.stopPreConnectBuffer.bind(track);
  track.stopPreConnectBuffer = () => {
    const recorder = track.localTrackRecorder;
    if (recorder?.state !== "recording") {
      stop();
      return;
    }
    recorder.requestData();
    setTimeout(stop, PRE_CONNECT_FLUSH_MS);
  };
}

/**
 * Note which of the user's tracks were subscribed to while the microphone was being published.
 * livekit-client 2.23 starts listening for the agent's subscription only once publishing is done,
 * and misses one that came first (a warm agent and a busy browser): the recording then ran to its
 * 10 s timeout, and the agent, waiting 3 s for it, dropped it with the user's first words.
 */
function watchEarlySubscriptions(participant) {
  const subscribed = new Set();
  const onSubscribed = (publication) => subscribed.add(publication.trackSid);
  participant.on(ParticipantEvent.LocalTrackSubscribed, onSubscribed);
  return {
    has: (trackSid) => subscribed.has(trackSid),
    stop: () => participant.off(ParticipantEvent.LocalTrackSubscribed, onSubscribed),
  };
}

/** Where the conversation is, in the words of the page: connecting, waiting, listening, ... */
function stageOf(connectionState, agentState) {
  switch (connectionState) {
    case "connecting":
      return "connecting";
    case "reconnecting":
    case "signalReconnecting":
      return "reconnecting";
    case "connected":
      return AGENT_STAGES.has(agentState) ? agentState : "waiting";
    default:
      return "disconnected";
  }
}

/**
 * Connects while `connect` is true, reports what happens, and sends `outgoingChat` when its
 * `id` changes. Rendered by `AgentSession` inside the provider.
 */
function SessionBridge({
  serverUrl,
  token,
  connect,
  outgoingChat,
  latencyTopic,
  llmProviderAttribute,
  toolTopic,
  timeZoneAttribute,
  heartbeatAttribute,
  agentSilentAfterMs,
  handlers,
}) {
  const session = useSessionContext();
  const { room } = session;
  const agent = useAgent();
  const transcriptions = useTranscriptions({ room });
  const chatOptions = useMemo(() => ({ room }), [room]);
  const chat = useChat(chatOptions);
  const endRequested = useRef(false);
  const everConnected = useRef(false);

  // Start in a timer: React's StrictMode mounts, unmounts and mounts again in development, and
  // the first mount's timer is cleared before it fires, so only one connection is made.
  useEffect(() => {
    if (!connect) {
      if (room.state !== "disconnected") {
        endRequested.current = true;
        room.disconnect();
      }
      return undefined;
    }
    let cancelled = false;
    const report = (kind, error) => {
      if (!cancelled) handlers.current.onError?.({ kind, detail: String(error?.message ?? error ?? "") });
    };
    const timer = setTimeout(async () => {
      if (tokenExpired(token)) {
        report("token_expired");
        return;
      }
      endRequested.current = false;
      // The microphone opens while the room connects (as LiveKit's React starter does): its
      // pre-connect buffer records what the user says from now until the agent has joined and
      // then hands it to the agent, so someone who talks straight away is heard whole.
      const earlySubscriptions = watchEarlySubscriptions(room.localParticipant);
      const microphone = room.localParticipant
        .setMicrophoneEnabled(true, undefined, { preConnectBuffer: true })
        .then(
          (publication) => {
            earlySubscriptions.stop();
            keepPreConnectBufferTail(publication?.track);
            if (publication && earlySubscriptions.has(publication.trackSid)) {
              publication.track?.stopPreConnectBuffer?.();
            }
            return null;
          },
          (error) => {
            earlySubscriptions.stop();
            return error;
          },
        );
      try {
        await room.connect(serverUrl, token);
        everConnected.current = true;
      } catch (error) {
        const kind = connectFailureKind(error, token);
        if (kind !== "cancelled") report(kind, error);
        return;
      }
      if (timeZoneAttribute) {
        // The agent's date-and-time tool answers in the browser's zone.
        const timeZone = Intl.DateTimeFormat().resolvedOptions().timeZone;
        room.localParticipant.setAttributes({ [timeZoneAttribute]: timeZone }).catch(() => {});
      }
      const microphoneError = await microphone;
      if (microphoneError && !cancelled) {
        // Python classifies the browser's error name (`voice_app.protocol.MICROPHONE_ERRORS`).
        handlers.current.onError?.({
          kind: "device_failed",
          source: "microphone",
          error_name: microphoneError?.name ?? "Error",
          detail: String(microphoneError?.message ?? microphoneError ?? ""),
        });
      }
    }, 0);
    return () => {
      cancelled = true;
      clearTimeout(timer);
    };
  }, [connect, room, serverUrl, token, timeZoneAttribute, handlers]);

  const agentState = useAgentStateAfterLoss(room, agent);
  const stage = stageOf(session.connectionState, agentState);
  const llmProvider = agent.attributes?.[llmProviderAttribute] ?? "";
  useEffect(() => {
    if (stage !== "disconnected") {
      handlers.current.onStateChange?.({ stage, agent_state: agentState, llm_provider: llmProvider });
    }
  }, [stage, agentState, llmProvider, handlers]);

  useSilentAgentReport(room, heartbeatAttribute, agentSilentAfterMs, handlers);

  // A lost agent is reported as such (a new one is on its way); Python gives up if none comes.
  // Each kind is reported once: `useAgent` stays "failed" after a loss, so its agent-join timer
  // (started at connection) later adds a reason of its own, which is that loss, not a new one;
  // reported again, it would end the conversation the new agent is carrying on.
  const failure = agent.state === "failed" ? agent.failureReasons.join(" ") : "";
  const failureKind = !failure ? "" : AGENT_LEFT.test(failure) ? "agent_lost" : "agent_timeout";
  const failureDetail = useRef("");
  failureDetail.current = failure;
  useEffect(() => {
    if (!failureKind) return;
    handlers.current.onError?.({ kind: failureKind, detail: failureDetail.current });
  }, [failureKind, handlers]);

  useEffect(() => {
    const onDisconnected = (reason) => {
      if (!everConnected.current) return;
      handlers.current.onDisconnected?.({
        reason: DisconnectReason[reason ?? DisconnectReason.UNKNOWN_REASON] ?? "UNKNOWN_REASON",
        requested: endRequested.current,
      });
    };
    const onData = (payload, _participant, _kind, topic) => {
      const handler =
        topic === latencyTopic ? handlers.current.onLatency : topic === toolTopic ? handlers.current.onTool : null;
      if (!handler) return;
      try {
        handler(JSON.parse(new TextDecoder().decode(payload)));
      } catch {
        // A malformed latency or tool message is not worth interrupting the conversation for.
      }
    };
    room.on(RoomEvent.Disconnected, onDisconnected);
    room.on(RoomEvent.DataReceived, onData);
    return () => {
      room.off(RoomEvent.Disconnected, onDisconnected);
      room.off(RoomEvent.DataReceived, onData);
    };
  }, [room, latencyTopic, toolTopic, handlers]);

  // Transcript lines are keyed by segment: LiveKit sends each update of a spoken segment as a
  // new text stream with the same `lk.segment_id`. Only lines that changed are reported.
  const reported = useRef(new Map());
  useEffect(() => {
    const localIdentity = room.localParticipant.identity;
    const lines = [
      ...transcriptions.map((item) => ({
        id: item.streamInfo.attributes?.[SEGMENT_ID] ?? item.streamInfo.id,
        role: item.participantInfo.identity === localIdentity ? "user" : "agent",
        source: "spoken",
        text: item.text,
        final: item.streamInfo.attributes?.[TRANSCRIPTION_FINAL] === "true",
      })),
      ...chat.chatMessages.map((item) => ({
        id: item.id,
        role: item.from?.identity === localIdentity ? "user" : "agent",
        source: "typed",
        text: item.message,
        final: true,
      })),
    ];
    const changed = lines.filter((line) => {
      const signature = `${line.final}:${line.text}`;
      if (!line.text || reported.current.get(line.id) === signature) return false;
      reported.current.set(line.id, signature);
      return true;
    });
    if (changed.length > 0) handlers.current.onTranscript?.(changed);
  }, [transcriptions, chat.chatMessages, room, handlers]);

  const sentChatId = useRef(null);
  const { send } = chat;
  const connected = session.connectionState === "connected";
  useEffect(() => {
    if (!connected || !outgoingChat?.id || outgoingChat.id === sentChatId.current) return;
    sentChatId.current = outgoingChat.id;
    send(outgoingChat.text).catch((error) =>
      handlers.current.onError?.({ kind: "chat_failed", detail: String(error?.message ?? error) }),
    );
  }, [connected, outgoingChat, send, handlers]);

  return null;
}

/**
 * The session provider: one LiveKit room per mounted instance (give it a React `key` per
 * conversation), the agent-join timeout, and the bridge that reports to Python.
 */
export function AgentSession({
  serverUrl,
  token,
  connect = false,
  agentTimeoutMs,
  outgoingChat,
  latencyTopic,
  llmProviderAttribute,
  toolTopic,
  timeZoneAttribute,
  heartbeatAttribute,
  agentSilentAfterMs,
  onStateChange,
  onTranscript,
  onError,
  onLatency,
  onTool,
  onDisconnected,
  children,
}) {
  const tokenSource = useMemo(
    () => TokenSource.literal({ serverUrl, participantToken: token }),
    [serverUrl, token],
  );
  // livekit-client 2.23 reads `preConnectBuffer` for the microphone from the room's publish
  // defaults, not from setMicrophoneEnabled's publish options: without this the buffer never
  // starts, and what the user says before the agent joins is lost (tests/test_speak_at_once.py).
  // A mono microphone: livekit-agents 1.8.9 resamples a stereo pre-connect recording as if it
  // were mono, so a stereo device's first words reached the agent at half speed, garbled.
  const room = useMemo(
    () => new Room({ publishDefaults: { preConnectBuffer: true }, audioCaptureDefaults: { channelCount: 1 } }),
    [],
  );
  const session = useSession(tokenSource, { room, agentConnectTimeoutMilliseconds: agentTimeoutMs });
  const handlers = useLatest({ onStateChange, onTranscript, onError, onLatency, onTool, onDisconnected });
  return (
    <SessionProvider session={session}>
      <SessionBridge
        serverUrl={serverUrl}
        token={token}
        connect={connect}
        outgoingChat={outgoingChat}
        latencyTopic={latencyTopic}
        llmProviderAttribute={llmProviderAttribute}
        toolTopic={toolTopic}
        timeZoneAttribute={timeZoneAttribute}
        heartbeatAttribute={heartbeatAttribute}
        agentSilentAfterMs={agentSilentAfterMs}
        handlers={handlers}
      />
      {children}
    </SessionProvider>
  );
}

/** Bars that follow the agent's voice; their look follows `data-lk-va-state` (the agent state). */
export function AgentVisualizer({ barCount = 5, ...props }) {
  const agent = useAgent();
  return <BarVisualizer state={agent.state} track={agent.microphoneTrack} barCount={barCount} {...props} />;
}

/** The video of `source` ("camera", "screen_share" or "agent"); nothing while it is off. */
export function VideoTile({ source = "camera", ...props }) {
  const session = useSessionContext();
  const agent = useAgent();
  const trackRef =
    source === "agent"
      ? agent.cameraTrack
      : source === "screen_share"
        ? session.local.screenShareTrack
        : session.local.cameraTrack;
  if (!trackRef || trackRef.publication?.isMuted) return null;
  return <VideoTrack trackRef={trackRef} muted playsInline {...props} />;
}

/** A labelled native `<select>` of the devices of `kind` (audioinput, videoinput, audiooutput). */
export function DeviceSelect({ kind = "audioinput", label, id, selectClassName, ...props }) {
  const room = useMaybeRoomContext();
  const { devices, activeDeviceId, setActiveMediaDevice } = useMediaDeviceSelect({ kind, room });
  const selectId = id ?? `device-select-${kind}`;
  return (
    <div {...props}>
      <label htmlFor={selectId}>{label}</label>
      <select
        id={selectId}
        className={selectClassName}
        value={activeDeviceId}
        disabled={devices.length === 0}
        onChange={(event) => setActiveMediaDevice(event.target.value)}
      >
        {devices.length === 0 && <option value="">No device found</option>}
        {devices.map((device, index) => (
          <option key={device.deviceId || index} value={device.deviceId}>
            {device.label || `${label} ${index + 1}`}
          </option>
        ))}
      </select>
    </div>
  );
}
