// Public API of @svcnet/allocator: named exports only.
export {};
