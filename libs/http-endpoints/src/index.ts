// Public API of @svcnet/http-endpoints: named exports only.
export { listenHttp, closeHttp, boundPort, sendText } from './http.js';
export type { HttpBind, AsyncHandler } from './http.js';
