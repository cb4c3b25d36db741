// The plain-language words the lab uses for the engine's terms.
import type { DeliveryMessage } from '@atoll/protocol';
import type { MissingReason, PendingTransaction } from '@atoll/sync';

export const REASON_WORDS: Readonly<Record<MissingReason, { short: string; long: string }>> = {
  'not-subscribed': { short: 'not subscribed', long: 'the receiver does not subscribe to it' },
  'not-held': { short: 'sender lacks it', long: 'the sender would send it, but does not have it itself' },
  'too-large': { short: 'too large', long: 'it does not fit in one message to the receiver' },
  'not-permitted': { short: 'not permitted', long: 'the receiver may not read it (its name is hidden too)' },
};

export const VIA_WORDS: Readonly<Record<DeliveryMessage['via'], string>> = {
  log: 'live',
  backfill: 'back-fill',
  want: 'answer to a request',
};

const STATUS_WORDS: Readonly<Record<string, string>> = {
  applied: 'applied',
  partial: 'partly applied',
  held: 'held back, invisible',
  duplicate: 'already had it',
  forbidden: 'refused',
  invalid: 'invalid',
  empty: 'nothing to apply',
};

export function statusWords(status: string): string {
  return STATUS_WORDS[status] ?? status;
}

export const PENDING_REASON_WORDS: Readonly<Record<PendingTransaction['reason'], string>> = {
  'missing-parts': 'waits for its missing part',
  'missing-dependencies': 'waits for earlier changes',
};
