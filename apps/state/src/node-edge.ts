import type { handleUnaryCall, ServerUnaryCall } from '@grpc/grpc-js';
import type { Logger } from 'pino';
import { nodeStatusToProto, statev1, unaryHandler, type CallAuthorizer, type UnaryHooks } from '@svcnet/api';
import { ErrorCode, NodeCondition, STATE_BUCKET, SvcnetError, validateNodeName, validateObjectKey } from '@svcnet/model';
import type { GrpcServerMetrics } from '@svcnet/service-runtime';
import { streamInfo, type StateStores, type StoreConnection } from '@svcnet/store';
import type { NodeDirectory, NodeView } from './node-directory.js';
import { waitProgrammed, type ProgrammedJudgement } from './programmed-wait.js';

/** Default and ceiling of WaitProgrammed's timeout. */
export const DEFAULT_WAIT_MS = 30_000;
const MAX_WAIT_MS = 10 * 60_000;
/** ListNodes' refresh is capped: it is a list, not a wait. */
const MAX_REFRESH_MS = 2_000;

/** Whether the endpoints of a service are settled: the controller has seen its current revision and has nothing queued for it. */
export type EndpointsSettled = (namespace: string, name: string, serviceRevision: number) => boolean;

export interface NodeEdgeParams {
  directory: NodeDirectory;
  stores: StateStores;
  connection: StoreConnection;
  endpointsSettled: EndpointsSettled;
  logger: Logger;
  metrics?: GrpcServerMetrics;
  /** Who may call what (mutual TLS); undefined when serving plaintext. */
  authorize?: CallAuthorizer;
}

type NodeHandlers = Pick<statev1.StateServer, 'listNodes' | 'getNode' | 'waitProgrammed'>;

const wireCondition = {
  [NodeCondition.Ready]: statev1.NodeCondition.NODE_CONDITION_READY,
  [NodeCondition.NotReady]: statev1.NodeCondition.NODE_CONDITION_NOT_READY,
};

function toWire(v: NodeView, head: number): statev1.Node {
  return {
    status: nodeStatusToProto(v.status),
    condition: wireCondition[v.condition],
    lastHeartbeatTime: v.heardAt,
    programmedRevision: v.programmedRevision,
    lag: Math.max(0, head - v.programmedRevision),
  };
}

function progressToWire(j: ProgrammedJudgement): statev1.WaitProgrammedResponse {
  return { programmed: j.programmed, revision: j.revision, programmedNodes: j.programmedNodes, pendingNodes: j.pendingNodes, notReadyNodes: j.notReadyNodes };
}

/** How long a call may still run: its own timeout, never past the client's deadline (less a margin to answer). */
function budget(call: ServerUnaryCall<unknown, unknown>, wantedMs: number): number {
  const deadline = call.getDeadline();
  const at = deadline instanceof Date ? deadline.getTime() : deadline;
  const left = Number.isFinite(at) ? at - Date.now() - 100 : Infinity;
  return Math.max(0, Math.min(wantedMs, left, MAX_WAIT_MS));
}

/** svcnet.v1.State's node calls: ListNodes, GetNode, WaitProgrammed. */
export function nodeHandlers(p: NodeEdgeParams): NodeHandlers {
  const hooks: UnaryHooks = {
    ...(p.metrics ? { observe: (m: string) => p.metrics!.unary(m) } : {}),
    ...(p.authorize ? { authorize: p.authorize } : {}),
  };
  const head = async (): Promise<number> => (await streamInfo(p.connection.nc, STATE_BUCKET)).state.last_seq;

  /** Probes the fleet for the current head and waits (briefly) until every Ready node answered. */
  const refreshed = async (refreshMs: number): Promise<{ views: NodeView[]; head: number }> => {
    const revision = await head();
    if (refreshMs > 0) {
      const since = Date.now();
      const quiet = (n: NodeView | undefined): boolean =>
        n !== undefined && n.condition === NodeCondition.Ready && n.programmedRevision < revision && (n.answeredAt ?? 0) < since;
      const unanswered = (): Set<string> => new Set(p.directory.nodes().filter(quiet).map((n) => n.name));
      let waiting = unanswered();
      if (waiting.size > 0) {
        await new Promise<void>((resolve) => {
          // Only the node that answered is looked at: a thousand answers stay a thousand small steps.
          const unlisten = p.directory.listen((name) => {
            if (name === undefined) waiting = unanswered();
            else if (quiet(p.directory.node(name))) waiting.add(name);
            else waiting.delete(name);
            if (waiting.size === 0) finish();
          });
          const timer = setTimeout(() => finish(), Math.min(refreshMs, MAX_REFRESH_MS));
          const finish = (): void => {
            clearTimeout(timer);
            unlisten();
            resolve();
          };
          p.directory.probe(revision, { everyone: true });
        });
      }
    }
    return { views: p.directory.nodes(), head: revision };
  };

  /** The revision a service's last change (its own or its endpoints') was stored at, once the endpoints controller caught up. */
  const lastChange = async (namespace: string, name: string, untilMs: number): Promise<number> => {
    validateObjectKey('Service', namespace, name);
    const svc = await p.stores.services.get(namespace, name);
    const rv = svc.metadata.resourceVersion;
    while (!p.endpointsSettled(namespace, name, rv) && Date.now() < untilMs) await new Promise((r) => setTimeout(r, 20));
    const ep = await p.stores.endpoints.tryGet(namespace, name);
    return Math.max(rv, ep?.metadata.resourceVersion ?? 0);
  };

  const waitFor = async (req: statev1.WaitProgrammedRequest, call: ServerUnaryCall<unknown, unknown>): Promise<statev1.WaitProgrammedResponse> => {
    if (req.timeoutMs > MAX_WAIT_MS) throw new SvcnetError(ErrorCode.InvalidArgument, `must be at most ${MAX_WAIT_MS} ms`, { field: 'timeout_ms' });
    const started = Date.now();
    const total = budget(call, req.timeoutMs || DEFAULT_WAIT_MS);
    let revision = req.revision;
    if (req.name) revision = Math.max(revision, await lastChange(req.namespace || 'default', req.name, started + total));
    else if (req.namespace) throw new SvcnetError(ErrorCode.InvalidArgument, 'a namespace needs a service name', { field: 'name' });
    if (revision === 0) revision = await head();
    const abort = new AbortController();
    call.once('cancelled', () => abort.abort());
    const judgement = await waitProgrammed({ source: p.directory, revision, timeoutMs: Math.max(0, started + total - Date.now()), signal: abort.signal });
    return progressToWire(judgement);
  };

  const listNodes: handleUnaryCall<statev1.ListNodesRequest, statev1.NodeList> = unaryHandler(
    'ListNodes',
    p.logger,
    async (req: statev1.ListNodesRequest) => {
      const { views, head: h } = await refreshed(req.refreshMs);
      return { items: views.map((v) => toWire(v, h)), revision: h };
    },
    hooks,
  );
  const getNode: handleUnaryCall<statev1.GetNodeRequest, statev1.Node> = unaryHandler(
    'GetNode',
    p.logger,
    async (req: statev1.GetNodeRequest) => {
      validateNodeName(req.name, 'name');
      const { views, head: h } = await refreshed(req.refreshMs);
      const v = views.find((n) => n.name === req.name);
      if (!v) throw new SvcnetError(ErrorCode.NotFound, `nodes "${req.name}" not found`);
      return toWire(v, h);
    },
    hooks,
  );
  return {
    listNodes,
    getNode,
    // Built per call: the wait needs the call itself (its deadline, its cancellation).
    waitProgrammed: (call, callback) =>
      unaryHandler('WaitProgrammed', p.logger, (req: statev1.WaitProgrammedRequest) => waitFor(req, call), hooks)(call, callback),
  };
}
