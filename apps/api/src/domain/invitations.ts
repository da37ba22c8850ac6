import { createHash, randomBytes } from 'node:crypto';

/**
 * An invitation token: 32 random bytes, base64url. Only its SHA-256 is stored, so a leaked
 * database does not hand out working invitations (the token has full entropy: no salt needed).
 */
export function newInvitationToken(): { token: string; tokenHash: string } {
  const token = randomBytes(32).toString('base64url');
  return { token, tokenHash: invitationTokenHash(token) };
}

export function invitationTokenHash(token: string): string {
  return createHash('sha256').update(token).digest('base64url');
}

/** Milliseconds of a lifetime written like `15m`, `48h`, `7d` (validated by the config schema). */
export function lifetimeMs(lifetime: string): number {
  const match = /^(\d+)([smhd])$/.exec(lifetime);
  if (!match) throw new RangeError(`not a lifetime: ${lifetime}`);
  const unit = { s: 1_000, m: 60_000, h: 3_600_000, d: 86_400_000 }[
    match[2] as 's' | 'm' | 'h' | 'd'
  ];
  return Number(match[1]) * unit;
}
