// Mirror outcomes: how one copy ended. Every copy has exactly one (PRODUCT.md, "Mirror outcomes").

export const OUTCOMES = [
  'delivered', // the mirror answered, any status
  'sampled_out', // the sampling decision said no
  'method_filtered', // the method is not mirrored (or the upstream is not sandboxed for writes)
  'body_too_large', // the request body exceeded the mirror's maxBodyBytes
  'overloaded', // maxInFlight reached, or the global copy-byte budget is spent
  'client_aborted', // the client went away before its request body was complete
  'timeout', // the mirror did not finish within its timeout
  'connect_error', // the mirror refused the connection or could not be resolved
  'reset', // the mirror reset or closed the connection mid-exchange, or answered garbage
  'tls_error', // the TLS handshake with the mirror failed
  'shutdown', // still in flight when tapwire's drain deadline passed
] as const;

export type Outcome = (typeof OUTCOMES)[number];
