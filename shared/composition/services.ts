import type { WritebackServices } from "../app/services.js";

type Factory = () => Promise<WritebackServices>;

let factory: Factory | undefined;
let instance: Promise<WritebackServices> | undefined;

/**
 * The one place function handlers get their services from. Production installs the
 * Azure-backed factory (composition/production.ts); tests and the local runner install theirs.
 */
export function getServices(): Promise<WritebackServices> {
  if (instance === undefined) {
    if (factory === undefined) return Promise.reject(new Error("no services configured"));
    instance = factory();
    instance.catch(() => {
      instance = undefined; // let the next request retry a failed start-up
    });
  }
  return instance;
}

export function configureServices(next: Factory): void {
  factory = next;
  instance = undefined;
}

/** Installs a factory only where none is installed yet: the production default of every function module. */
export function configureDefaultServices(next: Factory): void {
  if (factory === undefined) configureServices(next);
}

export function useServices(services: WritebackServices): void {
  configureServices(async () => services);
}
