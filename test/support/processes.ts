export { freePort, stopChild, waitFor } from "../../shared/dev/processes.js";
