// Cytoscape with the fCoSE layout registered.
import cytoscape from "cytoscape";
import fcose from "cytoscape-fcose";
cytoscape.use(fcose);
globalThis.cytoscape = cytoscape;
