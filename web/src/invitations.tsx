// Invitations to collaborate (docs/api.md, "Collaborators by invitation"): the pending ones addressed
// to the listener's email, a count for the nav badge (checked at login, every minute and after each
// answer), and Accept / Decline; accepting opens the playlist, which then follows it live.

import { useEffect, useState } from "preact/hooks";
import { currentSession, describe, request } from "./api";
import { go, say } from "./ui";

export interface Invitation {
  invitationId: string;
  playlistId: string;
  playlistName: string;
  ownerId: string;
  invitedAt: string;
}

const POLL_MS = 60_000;

let pending: Invitation[] | null = null; // null until the first answer
let failure: string | null = null;
const listeners = new Set<() => void>();

function publish(): void {
  listeners.forEach((listener) => listener());
}

/** Ask the API for the caller's pending invitations; every view of them updates. */
export async function refreshInvitations(): Promise<void> {
  if (!currentSession()) return;
  try {
    pending = (await request<{ items: Invitation[] }>("GET", "/me/invitations")).items;
    failure = null;
  } catch (error) {
    failure = describe(error);
  }
  publish();
}

function useInvitations(): { items: Invitation[] | null; error: string | null } {
  const [, setTick] = useState(0);
  useEffect(() => {
    const changed = () => setTick((t) => t + 1);
    listeners.add(changed);
    return () => void listeners.delete(changed);
  }, []);
  return { items: pending, error: failure };
}

/** Keeps the count fresh while a session lasts (the App mounts it once per login). */
export function useInvitationPolling(email: string | undefined): void {
  useEffect(() => {
    pending = null;
    publish();
    if (!email) return;
    void refreshInvitations();
    const timer = window.setInterval(() => void refreshInvitations(), POLL_MS);
    return () => window.clearInterval(timer);
  }, [email]);
}

/** The nav link's badge: how many invitations wait, read aloud with the link's name. */
export function InvitationBadge() {
  const count = useInvitations().items?.length || 0;
  if (!count) return null;
  return (
    <>
      <span class="badge" aria-hidden="true" data-testid="invitation-count">
        {count}
      </span>
      <span class="visually-hidden"> ({count} pending)</span>
    </>
  );
}

export function InvitationsPage() {
  const { items, error } = useInvitations();
  const [busy, setBusy] = useState<string | null>(null);
  useEffect(() => void refreshInvitations(), []);

  const answer = async (invitation: Invitation, accept: boolean) => {
    setBusy(invitation.invitationId);
    try {
      const path = `/me/invitations/${encodeURIComponent(invitation.invitationId)}/${accept ? "accept" : "decline"}`;
      await request("POST", path);
      if (accept) {
        say(`You can now edit ${invitation.playlistName}.`, "info");
        go(`#/playlist/${invitation.playlistId}`);
      } else {
        say(`Declined the invitation to ${invitation.playlistName}.`, "info");
      }
    } catch (failed) {
      say(`Could not ${accept ? "accept" : "decline"} the invitation to ${invitation.playlistName}: ${describe(failed)}`);
    } finally {
      setBusy(null);
      void refreshInvitations(); // used, declined, expired or gone: the list says what is left
    }
  };

  return (
    <section aria-labelledby="invitations-heading">
      <h1 id="invitations-heading">Invitations</h1>
      <p class="sub">Playlists you were invited to edit. Accept one to become a collaborator.</p>
      {items === null && !error && <p role="status">Loading your invitations…</p>}
      {error && (
        <p class="error" role="alert">
          Could not load your invitations: {error}{" "}
          <button type="button" onClick={() => void refreshInvitations()}>
            Try again
          </button>
        </p>
      )}
      {items?.length === 0 && <p>No pending invitations.</p>}
      {!!items?.length && (
        <ul class="invitations" aria-label="Pending invitations">
          {items.map((invitation) => (
            <li key={invitation.invitationId}>
              <span class="meta">
                <span class="title">{invitation.playlistName}</span>
                <span class="sub">Invited {new Date(invitation.invitedAt).toLocaleString()}</span>
              </span>
              <span class="actions">
                <button
                  type="button"
                  class="primary"
                  aria-label={`Accept the invitation to ${invitation.playlistName}`}
                  disabled={busy === invitation.invitationId}
                  onClick={() => void answer(invitation, true)}
                >
                  Accept
                </button>
                <button
                  type="button"
                  aria-label={`Decline the invitation to ${invitation.playlistName}`}
                  disabled={busy === invitation.invitationId}
                  onClick={() => void answer(invitation, false)}
                >
                  Decline
                </button>
              </span>
            </li>
          ))}
        </ul>
      )}
    </section>
  );
}
