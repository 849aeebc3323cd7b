// A shared budget of request-body bytes held in memory at once. A route must read a webhook's whole
// body before it can check the signature, so without a total bound every open connection could hold
// the per-body maximum (1000 connections × 25 MiB). Leases take bytes as chunks arrive and give them
// all back when the request is done, however it ended.

export class ByteBudget {
  #inUse = 0;

  constructor(readonly capacity: number) {}

  get inUse(): number {
    return this.#inUse;
  }

  /** A lease for one request's body; call `release()` exactly when the request is finished with. */
  lease(): BodyLease {
    let held = 0;
    return {
      take: (bytes) => {
        if (this.#inUse + bytes > this.capacity) return false;
        this.#inUse += bytes;
        held += bytes;
        return true;
      },
      release: () => {
        this.#inUse -= held;
        held = 0;
      },
    };
  }
}

export interface BodyLease {
  /** Reserves `bytes` more; false (nothing reserved) when the budget has no room for them. */
  take(bytes: number): boolean;
  /** Gives back everything this lease took. */
  release(): void;
}
