/** Options for {@link start}. */
export interface StartOptions {
  /** Base URL of the co-browsing relay, e.g. "https://relay.example.com". Required. */
  relay: string;
  /** Let the relay serve the page's static resources to the agent (default true). */
  enableStaticResourceService?: boolean;
  /** CSS handling; `server: true` lets the relay fetch stylesheets. */
  css?: { server?: boolean };
  /** CSS selectors whose text and input values never leave the page. */
  mask?: string[];
  /** CSS selectors of elements shown to the agent as empty boxes. */
  block?: string[];
  /** Mask every text and input value unless inside `data-cobrowse-unmask` (default false). */
  privateByDefault?: boolean;
  /**
   * An agent's invitation (the `invitation` secret the relay's `POST /api/invitations`
   * returned to your backend): the session starts under that invitation and the inviting
   * agent is asked for at once (the visitor still accepts or declines).
   */
  invitation?: string;
}

/** A running co-browsing session. */
export interface Session {
  /** The 6-digit code the visitor reads out to the agent. */
  readonly code: string;
  /** Ends the session and removes every listener, observer, timer and the visitor UI. */
  end(): void;
}

/**
 * Shows the visitor's co-browsing panel, connects to the relay and resolves
 * with the session once it has a code. Nothing of the page is sent until the
 * visitor accepts an agent. Rejects with an Error on bad options or when the
 * relay cannot be reached.
 */
export function start(options: StartOptions): Promise<Session>;

/**
 * The running session — one started on this page, or one continued from the
 * previous page of this tab (co-browsing survives navigation and reloads
 * within the relay's grace window) — or null.
 */
export function current(): Promise<Session | null>;
