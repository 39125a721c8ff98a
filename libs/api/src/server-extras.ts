import type { Server } from '@grpc/grpc-js';
import { loadFileDescriptorSetFromBuffer } from '@grpc/proto-loader';
import { ReflectionService } from '@grpc/reflection';
import { HealthImplementation, type ServingStatusMap } from 'grpc-health-check';
import { descriptorSetBase64 } from './gen/descriptor-set.js';

/**
 * Adds gRPC health checking (grpc.health.v1) and server reflection to a server,
 * so `grpcurl` and standard probes work. Returns the health implementation so
 * the caller can flip serving status (e.g. NOT_SERVING while the store is down).
 */
export function addHealthAndReflection(server: Server, services: string[]): HealthImplementation {
  const statusMap: ServingStatusMap = { '': 'SERVING' };
  for (const s of services) statusMap[s] = 'SERVING';
  const health = new HealthImplementation(statusMap);
  health.addToServer(server);
  const packageDefinition = loadFileDescriptorSetFromBuffer(Buffer.from(descriptorSetBase64, 'base64'));
  new ReflectionService(packageDefinition).addToServer(server);
  return health;
}
