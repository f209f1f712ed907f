// The DOM members the visitor asks of the page's nodes, taken once from the
// prototypes (Node, Element, Document, DocumentFragment, EventTarget) and
// called on the node, instead of looked up on the node at each call: a
// <form>'s controls shadow the form's members by name or id, and <img>,
// <form>, <embed>, <object>, <iframe> with a name shadow the document's
// (HTMLFormElement and Document are [LegacyOverrideBuiltIns]). Looked up
// on the object, `form.firstChild` can be an <input name="firstChild"> and
// `document.createElement` an <img name="createElement">.
//
// Kept once at load, the getters cost one call each (no descriptor lookup
// per call, which wasm-bindgen's `final` does). They work on nodes of
// same-origin frames too: a DOM getter checks what the object is, not
// which window made it.
//
// `cargo xtask dist` folds this file into the shipped glue (the SDK stays
// the files CONTRACT.md names): plain functions, `export` dropped, names
// prefixed so they cannot meet the glue's own.

// A member this browser lacks is `undefined` here (only fullscreenElement
// may be, and it is checked); the rest are in every browser the SDK runs in.
const cbDesc = (proto, name) => Object.getOwnPropertyDescriptor(proto, name) || {};
const cbGetter = (proto, name) => cbDesc(proto, name).get;
const cbMethod = (proto, name) => cbDesc(proto, name).value;

const cbNodeP = Node.prototype;
const cbElP = Element.prototype;
const cbDocP = Document.prototype;
const cbFragP = DocumentFragment.prototype;
const cbTargetP = EventTarget.prototype;

const cbNodeType = cbGetter(cbNodeP, "nodeType");
const cbNodeName = cbGetter(cbNodeP, "nodeName");
const cbFirstChild = cbGetter(cbNodeP, "firstChild");
const cbNextSibling = cbGetter(cbNodeP, "nextSibling");
const cbParentNode = cbGetter(cbNodeP, "parentNode");
const cbParentElement = cbGetter(cbNodeP, "parentElement");
const cbChildNodes = cbGetter(cbNodeP, "childNodes");
const cbOwnerDocument = cbGetter(cbNodeP, "ownerDocument");
const cbIsConnected = cbGetter(cbNodeP, "isConnected");
const cbTextContent = cbGetter(cbNodeP, "textContent");
const cbBaseURI = cbGetter(cbNodeP, "baseURI");
const cbGetRootNode = cbMethod(cbNodeP, "getRootNode");
const cbContains = cbMethod(cbNodeP, "contains");
const cbAppendChild = cbMethod(cbNodeP, "appendChild");

const cbLocalName = cbGetter(cbElP, "localName");
const cbNamespaceURI = cbGetter(cbElP, "namespaceURI");
const cbAttributes = cbGetter(cbElP, "attributes");
const cbShadowRoot = cbGetter(cbElP, "shadowRoot");
const cbFirstElementChild = cbGetter(cbElP, "firstElementChild");
const cbScrollLeft = cbGetter(cbElP, "scrollLeft");
const cbScrollTop = cbGetter(cbElP, "scrollTop");
const cbMatches = cbMethod(cbElP, "matches");
const cbClosest = cbMethod(cbElP, "closest");
const cbGetAttribute = cbMethod(cbElP, "getAttribute");
const cbGetAttributeNS = cbMethod(cbElP, "getAttributeNS");
const cbGetAttributeNode = cbMethod(cbElP, "getAttributeNode");
const cbHasAttribute = cbMethod(cbElP, "hasAttribute");
const cbSetAttribute = cbMethod(cbElP, "setAttribute");
const cbRemoveAttribute = cbMethod(cbElP, "removeAttribute");
const cbRect = cbMethod(cbElP, "getBoundingClientRect");
const cbElQuery = cbMethod(cbElP, "querySelector");
const cbElQueryAll = cbMethod(cbElP, "querySelectorAll");

const cbDocQuery = cbMethod(cbDocP, "querySelector");
const cbDocQueryAll = cbMethod(cbDocP, "querySelectorAll");
const cbFragQuery = cbMethod(cbFragP, "querySelector");
const cbFragQueryAll = cbMethod(cbFragP, "querySelectorAll");
const cbDocumentElement = cbGetter(cbDocP, "documentElement");
const cbScrollingElement = cbGetter(cbDocP, "scrollingElement");
const cbDefaultView = cbGetter(cbDocP, "defaultView");
const cbCompatMode = cbGetter(cbDocP, "compatMode");
const cbURL = cbGetter(cbDocP, "URL");
const cbFullscreenElement = cbGetter(cbDocP, "fullscreenElement");
const cbCreateElement = cbMethod(cbDocP, "createElement");
const cbCreateTextNode = cbMethod(cbDocP, "createTextNode");
const cbCreateFragment = cbMethod(cbDocP, "createDocumentFragment");
const cbGetSelection = cbMethod(cbDocP, "getSelection");

const cbAddListener = cbMethod(cbTargetP, "addEventListener");
const cbRemoveListener = cbMethod(cbTargetP, "removeEventListener");

export function cbDomNodeType(n) { return cbNodeType.call(n); }
export function cbDomNodeName(n) { return cbNodeName.call(n); }
export function cbDomFirstChild(n) { return cbFirstChild.call(n); }
export function cbDomNextSibling(n) { return cbNextSibling.call(n); }
export function cbDomParentNode(n) { return cbParentNode.call(n); }
export function cbDomParentElement(n) { return cbParentElement.call(n); }
export function cbDomChildNodes(n) { return cbChildNodes.call(n); }
export function cbDomOwnerDocument(n) { return cbOwnerDocument.call(n); }
export function cbDomIsConnected(n) { return cbIsConnected.call(n); }
export function cbDomTextContent(n) { return cbTextContent.call(n); }
export function cbDomBaseURI(n) { return cbBaseURI.call(n); }
export function cbDomGetRootNode(n) { return cbGetRootNode.call(n); }
export function cbDomContains(n, other) { return cbContains.call(n, other); }
export function cbDomAppendChild(n, child) { return cbAppendChild.call(n, child); }

export function cbDomLocalName(e) { return cbLocalName.call(e); }
export function cbDomNamespaceURI(e) { return cbNamespaceURI.call(e); }
export function cbDomAttributes(e) { return cbAttributes.call(e); }
export function cbDomShadowRoot(e) { return cbShadowRoot.call(e); }
export function cbDomFirstElementChild(e) { return cbFirstElementChild.call(e); }
export function cbDomScrollLeft(e) { return cbScrollLeft.call(e); }
export function cbDomScrollTop(e) { return cbScrollTop.call(e); }
export function cbDomMatches(e, s) { return cbMatches.call(e, s); }
export function cbDomClosest(e, s) { return cbClosest.call(e, s); }
export function cbDomGetAttribute(e, a) { return cbGetAttribute.call(e, a); }
export function cbDomGetAttributeNS(e, ns, a) { return cbGetAttributeNS.call(e, ns, a); }
export function cbDomGetAttributeNode(e, a) { return cbGetAttributeNode.call(e, a); }
export function cbDomHasAttribute(e, a) { return cbHasAttribute.call(e, a); }
export function cbDomSetAttribute(e, a, v) { cbSetAttribute.call(e, a, v); }
export function cbDomRemoveAttribute(e, a) { cbRemoveAttribute.call(e, a); }
export function cbDomRect(e) { return cbRect.call(e); }

// The three kinds of node with querySelector each have their own method,
// and each refuses the others' nodes: the node's type picks.
function cbQueryOf(n, doc, frag, el) {
  switch (cbNodeType.call(n)) {
    case 9: return doc;
    case 11: return frag;
    default: return el;
  }
}
export function cbDomQuery(n, s) { return cbQueryOf(n, cbDocQuery, cbFragQuery, cbElQuery).call(n, s); }
export function cbDomQueryAll(n, s) { return cbQueryOf(n, cbDocQueryAll, cbFragQueryAll, cbElQueryAll).call(n, s); }

export function cbDomDocumentElement(d) { return cbDocumentElement.call(d); }
export function cbDomScrollingElement(d) { return cbScrollingElement.call(d); }
export function cbDomDefaultView(d) { return cbDefaultView.call(d); }
export function cbDomCompatMode(d) { return cbCompatMode.call(d); }
export function cbDomURL(d) { return cbURL.call(d); }
export function cbDomFullscreenElement(d) { return cbFullscreenElement ? cbFullscreenElement.call(d) : null; }
export function cbDomCreateElement(d, tag) { return cbCreateElement.call(d, tag); }
export function cbDomCreateTextNode(d, text) { return cbCreateTextNode.call(d, text); }
export function cbDomCreateFragment(d) { return cbCreateFragment.call(d); }
export function cbDomGetSelection(d) { return cbGetSelection.call(d); }

export function cbDomAddListener(t, type, f, options) { cbAddListener.call(t, type, f, options); }
export function cbDomRemoveListener(t, type, f, options) { cbRemoveListener.call(t, type, f, options); }
