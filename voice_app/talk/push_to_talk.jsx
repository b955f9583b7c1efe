/**
 * Push-to-talk: the user holds a button (or the space bar) while speaking. Pressing calls the
 * agent's `startMethod` RPC, releasing calls `endMethod` (the agent commits the turn), and a press
 * that is abandoned (the pointer is cancelled, the window loses focus) calls `cancelMethod`.
 * Calls are chained, so a quick release never overtakes its press. Must be rendered inside
 * `AgentSession` (it uses the session's room and agent). Wrapped by `push_to_talk.py`.
 */
import { useEffect, useRef, useState } from "react";
import { useAgent, useSessionContext } from "@livekit/components-react";

/** Keys typed into a field or pressed on another control are not a press. */
function belongsToAnotherControl(target, button) {
  if (!target || target === button || target === document.body) return false;
  return Boolean(target.closest?.("input, textarea, select, button, a, summary, [contenteditable='true']"));
}

export function PushToTalkButton({
  startMethod,
  endMethod,
  cancelMethod,
  label = "Hold to talk",
  pressedLabel = "Talking… release to send",
  onError,
  ...props
}) {
  const { room } = useSessionContext();
  const agent = useAgent();
  const [pressed, setPressed] = useState(false);
  const pressedRef = useRef(false);
  const chain = useRef(Promise.resolve());
  const buttonRef = useRef(null);
  const latest = useRef({});
  latest.current = { agentIdentity: agent.identity, onError };

  const call = (method) => {
    chain.current = chain.current.then(async () => {
      const destinationIdentity = latest.current.agentIdentity;
      if (!destinationIdentity) return;
      try {
        await room.localParticipant.performRpc({ destinationIdentity, method, payload: "" });
      } catch (error) {
        latest.current.onError?.({ kind: "push_to_talk_failed", detail: String(error?.message ?? error) });
      }
    });
  };
  const press = () => {
    if (pressedRef.current || !latest.current.agentIdentity) return;
    pressedRef.current = true;
    setPressed(true);
    call(startMethod);
  };
  const release = (cancelled) => {
    if (!pressedRef.current) return;
    pressedRef.current = false;
    setPressed(false);
    call(cancelled ? cancelMethod : endMethod);
  };
  const handlers = useRef({});
  handlers.current = { press, release };

  useEffect(() => {
    const down = (event) => {
      if (event.code !== "Space" || belongsToAnotherControl(event.target, buttonRef.current)) return;
      event.preventDefault();
      if (!event.repeat) handlers.current.press();
    };
    const up = (event) => {
      if (event.code !== "Space" || belongsToAnotherControl(event.target, buttonRef.current)) return;
      event.preventDefault();
      handlers.current.release(false);
    };
    const abandon = () => handlers.current.release(true);
    window.addEventListener("keydown", down);
    window.addEventListener("keyup", up);
    window.addEventListener("blur", abandon);
    return () => {
      window.removeEventListener("keydown", down);
      window.removeEventListener("keyup", up);
      window.removeEventListener("blur", abandon);
      abandon();
    };
  }, []);

  return (
    <button
      type="button"
      ref={buttonRef}
      aria-pressed={pressed}
      disabled={!agent.identity}
      onPointerDown={(event) => {
        event.preventDefault();
        event.currentTarget.setPointerCapture?.(event.pointerId);
        press();
      }}
      onPointerUp={() => release(false)}
      onPointerCancel={() => release(true)}
      onContextMenu={(event) => event.preventDefault()}
      {...props}
    >
      {pressed ? pressedLabel : label}
    </button>
  );
}
