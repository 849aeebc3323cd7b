/** One stand-in GitHub answer. */
export interface Interceptor {
  method: string;
  path?: string;
  /** A RegExp source, for paths with ids. */
  pathPattern?: string;
  status: number;
  body: unknown;
  headers?: Record<string, string>;
  persist?: boolean;
}

export interface SeenRequest {
  method: string;
  uri: string;
  headers: Record<string, string>;
  body: unknown;
}

/** Installs each interceptor on `api`; `onSeen` gets every request that reached one. */
export function intercept(api: string, interceptors: Interceptor[], onSeen?: (request: SeenRequest) => void): void;
