import { status as grpcStatus } from '@grpc/grpc-js';
import { Counter, Gauge, Histogram, type Registry } from 'prom-client';

/** gRPC code as go-grpc-prometheus labels it (Go's codes.Code names): OK, Canceled, InvalidArgument… */
export function grpcCodeLabel(code: number): string {
  const name = grpcStatus[code] as string | undefined;
  if (!name) return String(code);
  if (name === 'OK') return name;
  if (name === 'CANCELLED') return 'Canceled'; // Go spells it with one l
  return name
    .toLowerCase()
    .split('_')
    .map((w) => w.charAt(0).toUpperCase() + w.slice(1))
    .join('');
}

type CallLabels = 'grpc_service' | 'grpc_method' | 'grpc_type';

/**
 * Server-side gRPC metrics under go-grpc-prometheus's names, so existing
 * dashboards and alerts work: grpc_server_started_total,
 * grpc_server_handled_total{grpc_code}, grpc_server_handling_seconds (unary),
 * plus grpc_server_streams_open for long-lived server streams (watches).
 */
export class GrpcServerMetrics {
  private readonly started: Counter<CallLabels>;
  private readonly handled: Counter<CallLabels | 'grpc_code'>;
  private readonly handling: Histogram<CallLabels>;
  private readonly streamsOpen: Gauge<CallLabels>;

  constructor(private readonly service: string, registry: Registry) {
    const registers = [registry];
    this.started = new Counter({
      name: 'grpc_server_started_total',
      help: 'RPCs started on the server.',
      labelNames: ['grpc_service', 'grpc_method', 'grpc_type'],
      registers,
    });
    this.handled = new Counter({
      name: 'grpc_server_handled_total',
      help: 'RPCs completed on the server, by method and gRPC status code.',
      labelNames: ['grpc_service', 'grpc_method', 'grpc_type', 'grpc_code'],
      registers,
    });
    this.handling = new Histogram({
      name: 'grpc_server_handling_seconds',
      help: 'Time from receiving a unary RPC to sending its response, in seconds.',
      labelNames: ['grpc_service', 'grpc_method', 'grpc_type'],
      buckets: [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.02, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5],
      registers,
    });
    this.streamsOpen = new Gauge({
      name: 'grpc_server_streams_open',
      help: 'Server-streaming RPCs open now.',
      labelNames: ['grpc_service', 'grpc_method', 'grpc_type'],
      registers,
    });
  }

  /** Starts timing a unary call; the returned function records its code. */
  unary(method: string): (code: number) => void {
    const labels = { grpc_service: this.service, grpc_method: method, grpc_type: 'unary' };
    const startedAt = performance.now();
    this.started.inc(labels);
    return (code) => {
      this.handled.inc({ ...labels, grpc_code: grpcCodeLabel(code) });
      this.handling.observe(labels, (performance.now() - startedAt) / 1000);
    };
  }

  /** Counts a server stream as open; the returned function (idempotent) records its end. */
  serverStream(method: string): (code: number) => void {
    const labels = { grpc_service: this.service, grpc_method: method, grpc_type: 'server_stream' };
    this.started.inc(labels);
    this.streamsOpen.inc(labels);
    let ended = false;
    return (code) => {
      if (ended) return;
      ended = true;
      this.streamsOpen.dec(labels);
      this.handled.inc({ ...labels, grpc_code: grpcCodeLabel(code) });
    };
  }
}
