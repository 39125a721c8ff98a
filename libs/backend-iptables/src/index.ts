// Public API of @svcnet/backend-iptables: named exports only.
export {};
