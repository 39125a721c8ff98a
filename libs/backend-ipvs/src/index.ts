// Public API of @svcnet/backend-ipvs: named exports only.
export {};
