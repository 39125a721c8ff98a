// Public API of @svcnet/backend-userspace: named exports only.
export {};
