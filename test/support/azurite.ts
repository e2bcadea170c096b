export { startAzurite, tableConnectionString, type AzuriteHandle } from "../../shared/dev/azurite.js";
