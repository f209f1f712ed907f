// What the walk needs of an element in one call (`src/read.rs` reads the
// packing): flags, local name, namespace, then attribute names and values,
// separated by NUL. Kept small: the dist step folds it into the glue.
// Element.prototype's own functions and getters, not the element's
// properties: a <form> exposes its controls by name over them (a control
// named "matches" or "localName" would otherwise answer for the form).
const cobrowseProto = Element.prototype;
const cobrowseMatches = cobrowseProto.matches;
const cobrowseNames = cobrowseProto.getAttributeNames;
const cobrowseValue = cobrowseProto.getAttribute;
const cobrowseGetter = (name) => Object.getOwnPropertyDescriptor(cobrowseProto, name).get;
const cobrowseLocalName = cobrowseGetter("localName");
const cobrowseNamespace = cobrowseGetter("namespaceURI");
// The element's own document's style, whichever window asks.
const cobrowseStyle = getComputedStyle;

// `scrolls`: whether the caller wants to know if the element may be
// scrolled (flag 16). Only a box whose overflow is not `visible` on some
// axis (`clip` included: a text field's is) can have a scroll offset, and
// the computed style costs about half of reading both offsets of every
// element (measured on the bench's pages).
export function cobrowseReadElement(el, mask, unmask, block, scrolls) {
  const is = (selector) => {
    try {
      return cobrowseMatches.call(el, selector);
    } catch (e) {
      return false;
    }
  };
  const ns = cobrowseNamespace.call(el);
  const name = cobrowseLocalName.call(el);
  let flags = is(mask) ? 1 : is(unmask) ? 2 : 0;
  if (is(block)) flags |= 4;
  if (scrolls) {
    try {
      const style = cobrowseStyle(el);
      if (style.overflowX !== "visible" || style.overflowY !== "visible") flags |= 16;
    } catch (e) {
      flags |= 16;
    }
  }
  let attrs = "";
  const html = ns === null || ns === "http://www.w3.org/1999/xhtml";
  const lower = html ? name.toLowerCase() : "";
  if (flags & 4 || lower === "input" || lower === "textarea") {
    flags |= 8;
  } else {
    // Names and values as strings: no `Attr` node made per attribute
    // (each would stay on its element for the page's life). Where a name
    // does not find its own value (an upper-case name on an HTML element,
    // which `getAttribute` lower-cases; two attributes of one qualified
    // name in different namespaces) or a NUL would make the packing
    // ambiguous, the attributes are read one by one instead.
    const list = cobrowseNames.call(el);
    for (let i = 0; i < list.length; i++) {
      const n = list[i];
      const v = cobrowseValue.call(el, n);
      if (
        v === null ||
        (html && n !== n.toLowerCase()) ||
        (i > 0 && list.indexOf(n) !== i) ||
        n.indexOf("\0") >= 0 ||
        v.indexOf("\0") >= 0
      ) {
        flags |= 8;
        attrs = "";
        break;
      }
      attrs += "\0" + n + "\0" + v;
    }
  }
  return String.fromCharCode(64 + flags) + name + "\0" + (ns === null ? "" : ns) + attrs;
}
