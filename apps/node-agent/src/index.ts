// Public API of @svcnet/node-agent: named exports only.
export {};
