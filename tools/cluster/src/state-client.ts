import { credentials, Metadata, status, type ServiceError } from '@grpc/grpc-js';
import { statev1, v1 } from '@svcnet/api';
import { channelCredentials } from '@svcnet/client';
import type { PodRecord } from './state-file.js';

/** A State client through the Unix-socket bridge into the control-plane namespace. */
export function connectStateClient(socket: string, tls?: { caFile: string; certFile: string; keyFile: string }): statev1.StateClient {
  const creds = tls ? channelCredentials(tls) : credentials.createInsecure();
  // A restarted state service must be used again within seconds, not after grpc-js's default backoff (up to 120 s).
  return new statev1.StateClient(`unix:${socket}`, creds, {
    'grpc.initial_reconnect_backoff_ms': 200,
    'grpc.max_reconnect_backoff_ms': 2_000,
    // Through the Unix-socket bridge the server is still checked by name: its certificate has localhost.
    ...(tls ? { 'grpc.ssl_target_name_override': 'localhost', 'grpc.default_authority': 'localhost' } : {}),
  });
}

type Unary<Req, Res> = (req: Req, md: Metadata, opts: { deadline: number }, cb: (err: ServiceError | null, res: Res) => void) => unknown;

/** Calls a unary method, retrying UNAVAILABLE (the state service may still be connecting to NATS). */
export async function callWithRetry<Req, Res>(fn: Unary<Req, Res>, req: Req, timeoutMs = 15_000): Promise<Res> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    try {
      // Each call has its own deadline too: through the socket bridge a dead server can look like a slow one.
      return await new Promise<Res>((resolve, reject) => {
        fn(req, new Metadata(), { deadline: Math.min(deadline, Date.now() + 5_000) }, (err, res) => (err ? reject(err) : resolve(res)));
      });
    } catch (err) {
      const code = (err as Partial<ServiceError>).code;
      if ((code !== status.UNAVAILABLE && code !== status.DEADLINE_EXCEEDED) || Date.now() > deadline) throw err;
      await new Promise((r) => setTimeout(r, 200));
    }
  }
}

function protocolToProto(p: PodRecord['ports'][number]['protocol']): v1.Protocol {
  if (p === 'UDP') return v1.Protocol.PROTOCOL_UDP;
  if (p === 'SCTP') return v1.Protocol.PROTOCOL_SCTP;
  return v1.Protocol.PROTOCOL_TCP;
}

/** The Pod object registered for a cluster pod. */
export function podObject(pod: PodRecord): v1.Pod {
  return {
    metadata: {
      namespace: pod.namespace,
      name: pod.name,
      uid: '',
      labels: { ...pod.labels },
      annotations: {},
      resourceVersion: '0',
    },
    nodeName: pod.node,
    ip: pod.ip,
    ready: pod.ready,
    terminating: false,
    containerPorts: pod.ports.map((p) => ({ name: p.name, containerPort: p.port, protocol: protocolToProto(p.protocol) })),
  };
}

/** Registers a pod (create, or update when it already exists). */
export async function registerPod(client: statev1.StateClient, pod: PodRecord): Promise<void> {
  try {
    await callWithRetry(client.createPod.bind(client), { pod: podObject(pod) });
  } catch (err) {
    if ((err as Partial<ServiceError>).code !== status.ALREADY_EXISTS) throw err;
    await callWithRetry(client.updatePod.bind(client), { pod: podObject(pod) });
  }
}

/** Sets a registered pod's readiness (read, modify, compare-and-set). */
export async function setPodReadiness(client: statev1.StateClient, pod: PodRecord, ready: boolean): Promise<void> {
  const current = await callWithRetry<statev1.GetObjectRequest, v1.Pod>(client.getPod.bind(client), { namespace: pod.namespace, name: pod.name });
  await callWithRetry(client.updatePod.bind(client), { pod: { ...current, ready } });
}

/** Deletes a pod's registration; a pod the service does not know is fine. */
export async function unregisterPod(client: statev1.StateClient, pod: PodRecord): Promise<void> {
  try {
    await callWithRetry(client.deletePod.bind(client), { namespace: pod.namespace, name: pod.name });
  } catch (err) {
    if ((err as Partial<ServiceError>).code !== status.NOT_FOUND) throw err;
  }
}
