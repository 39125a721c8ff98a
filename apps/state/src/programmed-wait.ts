import { NodeCondition } from '@svcnet/model';

/** A node and the revision it has programmed. */
export interface NodeProgress {
  name: string;
  programmedRevision: number;
}

/** Where the fleet stands for one revision. */
export interface ProgrammedJudgement {
  /** Every Ready node has programmed the revision. */
  programmed: boolean;
  revision: number;
  programmedNodes: NodeProgress[];
  /** Ready nodes that have not programmed it yet. */
  pendingNodes: NodeProgress[];
  /** Not waited for: heartbeats missed. */
  notReadyNodes: NodeProgress[];
}

/** The part of a node the judgement needs. */
export interface JudgedNode extends NodeProgress {
  condition: NodeCondition;
}

/**
 * Which Ready nodes have programmed `revision` and which have not. NotReady
 * nodes are listed apart and never waited for: a node that stopped
 * reporting would otherwise hold every wait until the timeout.
 */
export function judgeProgrammed(nodes: readonly JudgedNode[], revision: number): ProgrammedJudgement {
  const strip = (n: JudgedNode): NodeProgress => ({ name: n.name, programmedRevision: n.programmedRevision });
  const ready = nodes.filter((n) => n.condition === NodeCondition.Ready);
  const programmedNodes = ready.filter((n) => n.programmedRevision >= revision).map(strip);
  const pendingNodes = ready.filter((n) => n.programmedRevision < revision).map(strip);
  const notReadyNodes = nodes.filter((n) => n.condition !== NodeCondition.Ready).map(strip);
  return { programmed: pendingNodes.length === 0, revision, programmedNodes, pendingNodes, notReadyNodes };
}

/** What {@link waitProgrammed} watches: the nodes, their changes, and a way to ask them for progress. */
export interface ProgressSource {
  nodes(): JudgedNode[];
  /** One node as of now, or undefined when it is not (or no longer) known. */
  node(name: string): JudgedNode | undefined;
  /** Called with the node that changed, or with no name when any may have (a relist). */
  listen(fn: (node?: string) => void): () => void;
  probe(revision: number): void;
}

export interface WaitProgrammedParams {
  source: ProgressSource;
  revision: number;
  timeoutMs: number;
  /** Probes are repeated this often while waiting (a lost probe, a node that just started). */
  reprobeMs?: number;
  /** Ends the wait early (the caller went away); resolves with the judgement as of then. */
  signal?: AbortSignal;
}

/** Whether the wait is still held up by this node. */
function holdsUp(n: JudgedNode | undefined, revision: number): boolean {
  return n !== undefined && n.condition === NodeCondition.Ready && n.programmedRevision < revision;
}

/**
 * Waits until every Ready node has programmed `revision`, or the timeout.
 * Agents are probed once at the start (each answers when it gets there, or
 * at once if it already has) and again every `reprobeMs`. The wait keeps the
 * set of nodes still behind and looks only at the node that changed, so one
 * answer costs the same with ten nodes or a thousand; the whole fleet is
 * judged again on every re-probe (a node that stops reporting turns NotReady
 * by its age alone, with no event).
 */
export function waitProgrammed(p: WaitProgrammedParams): Promise<ProgrammedJudgement> {
  const judge = (): ProgrammedJudgement => judgeProgrammed(p.source.nodes(), p.revision);
  const first = judge();
  if (first.programmed) return Promise.resolve(first);
  return new Promise((resolve) => {
    let done = false;
    let pending = new Set(first.pendingNodes.map((n) => n.name));
    const finish = (): void => {
      if (done) return;
      done = true;
      unlisten();
      clearTimeout(timer);
      clearInterval(reprobe);
      p.signal?.removeEventListener('abort', finish);
      resolve(judge());
    };
    const rejudge = (): void => {
      const j = judge();
      if (j.programmed) finish();
      else pending = new Set(j.pendingNodes.map((n) => n.name));
    };
    const unlisten = p.source.listen((name) => {
      if (name === undefined) return rejudge();
      if (holdsUp(p.source.node(name), p.revision)) pending.add(name);
      else pending.delete(name);
      if (pending.size === 0) rejudge();
    });
    const timer = setTimeout(finish, Math.max(0, p.timeoutMs));
    const reprobe = setInterval(() => {
      rejudge();
      if (!done) p.source.probe(p.revision);
    }, p.reprobeMs ?? 1_000);
    p.signal?.addEventListener('abort', finish);
    p.source.probe(p.revision);
  });
}
