import type { Duplex } from 'node:stream';

/**
 * Makes the frames sent in one turn of the event loop go out in one write. `ws` writes each
 * frame to the TCP socket on its own — a system call per frame — so a relay streaming a
 * catch-up, or fanning one change out, pays a syscall per delivery. Corking the socket at the
 * first send and uncorking it once the turn's synchronous work and promise jobs are done
 * (`process.nextTick`, which runs after them) writes them all at once, without waiting for a
 * timer or another turn.
 *
 * @param stream the socket, or a function that returns it once known (a client learns it at the upgrade).
 * @returns the function to call before each send.
 */
export function coalesceWrites(stream: Duplex | (() => Duplex | undefined)): () => void {
  let corked = false;
  return () => {
    if (corked) return;
    const socket = typeof stream === 'function' ? stream() : stream;
    if (!socket || socket.destroyed) return;
    corked = true;
    socket.cork();
    process.nextTick(() => {
      corked = false;
      socket.uncork();
    });
  };
}
