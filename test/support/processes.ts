export { freePort, stopChild, waitFor } from "../../dev/processes.js";
