// Public API of @svcnet/pki: a CA and certificates for svcnet's TLS, made by the system's openssl.
export { createCa, issueCertificate, PkiError } from './openssl.js';
export type { KeyPairFiles, IssueParams, CertUsage } from './openssl.js';
export { createClusterPki, pkiPath } from './cluster-pki.js';
export type { ClusterPki, ClusterPkiParams } from './cluster-pki.js';
