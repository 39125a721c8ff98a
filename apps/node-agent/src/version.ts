/** The version this agent reports in its node record (svcnetctl get nodes: VERSION). */
export const AGENT_VERSION = '0.1.0';
