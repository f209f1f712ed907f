//! WebGL canvases whose buffer the browser clears once shown, drawn once
//! before the session started: with the script tag's loader (`js/cobrowse.js`,
//! run in this page) they still reach the agent painted.

use protocol::{CanvasFrame, Event, ImageFormat};
use wasm_bindgen::{JsCast, JsValue};
use wasm_bindgen_futures::JsFuture;
use wasm_bindgen_test::wasm_bindgen_test;

use crate::session::Relay;
use crate::util::*;

/// Runs the loader in this page once, as the script tag would, for its
/// WebGL measures. Its `window.Cobrowse` is removed again (the tests start
/// sessions through the wasm directly); nothing is left to resume, so it
/// loads nothing.
fn install_loader() {
    let w = web_sys::window().unwrap();
    let key = js_sys::Symbol::for_("cobrowse.webgl.copies");
    if js_sys::Reflect::has(&w, &key).unwrap() {
        return;
    }
    if let Ok(Some(storage)) = w.session_storage() {
        storage.remove_item("cobrowse:session").unwrap();
    }
    js_sys::Function::new_no_args(include_str!("../../js/cobrowse.js"))
        .call0(&JsValue::NULL)
        .unwrap();
    js_sys::Reflect::delete_property(&w, &"Cobrowse".into()).unwrap();
}

/// Runs `body` (JS) with the fixture's elements `a`, `b` and `frame`.
fn script(body: &str, args: &[&web_sys::Element]) -> JsValue {
    let f = js_sys::Function::new_with_args("a, b, frame", body);
    f.call3(&JsValue::NULL, args[0], args[1], args[2]).unwrap()
}

/// The colour at the centre of a frame's only tile, decoded by the browser.
async fn centre(frame: &CanvasFrame) -> Vec<u8> {
    assert_eq!(frame.tiles.len(), 1, "one whole tile");
    let tile = &frame.tiles[0];
    let kind = match tile.format {
        ImageFormat::Png => "image/png",
        _ => "image/webp",
    };
    let decode = js_sys::Function::new_with_args(
        "bytes, kind",
        "return (async () => {
           const bmp = await createImageBitmap(new Blob([bytes], { type: kind }));
           const c = new OffscreenCanvas(bmp.width, bmp.height);
           const x = c.getContext('2d'); x.drawImage(bmp, 0, 0);
           return Array.from(x.getImageData(bmp.width >> 1, bmp.height >> 1, 1, 1).data);
         })();",
    );
    let bytes = js_sys::Uint8Array::from(tile.data.as_slice());
    let promise: js_sys::Promise = decode
        .call2(&JsValue::NULL, &bytes, &kind.into())
        .unwrap()
        .dyn_into()
        .unwrap();
    let rgba = JsFuture::from(promise).await.unwrap();
    js_sys::Array::from(&rgba)
        .iter()
        .map(|v| v.as_f64().unwrap() as u8)
        .collect()
}

fn close(got: &[u8], want: [u8; 4]) -> bool {
    got.len() == 4
        && got
            .iter()
            .zip(want)
            .all(|(g, w)| (i32::from(*g) - i32::from(w)).abs() <= 3)
}

#[wasm_bindgen_test]
async fn a_webgl_canvas_drawn_once_without_a_preserved_buffer_arrives_painted() {
    install_loader();
    let relay = Relay::install();
    let f = Fixture::new(
        "gl",
        "<canvas id='a' width='96' height='64'></canvas>\
         <canvas id='b' width='80' height='48'></canvas><iframe id='n'></iframe>",
    );
    // #a asks the page's getContext for the default buffer (the loader
    // makes it preserved); #b's context comes from the browser's own
    // getContext, as if made before the loader: its buffer is cleared.
    let ready = script(
        "const early = frame.contentWindow.HTMLCanvasElement.prototype.getContext;
         const ga = a.getContext('webgl');
         const gb = early.call(b, 'webgl');
         if (!ga || !gb) return false;
         ga.clearColor(0, 0.6, 0.2, 1); ga.clear(ga.COLOR_BUFFER_BIT);
         gb.clearColor(1, 0, 0, 1); gb.clear(gb.COLOR_BUFFER_BIT);
         gb.clearColor(0.2, 0.4, 1, 1); gb.clear(gb.COLOR_BUFFER_BIT);
         return !gb.getContextAttributes().preserveDrawingBuffer;",
        &[&f.get("#a"), &f.get("#b"), &f.get("#n")],
    );
    if ready != JsValue::TRUE {
        web_sys::console::log_1(&"no WebGL in this browser".into());
        return;
    }
    // Frames go by: #b's buffer is blank now, as the capture would find it.
    sleep(200).await;
    let blank = script(
        "const c = new OffscreenCanvas(b.width, b.height).getContext('2d');
         c.drawImage(b, 0, 0); return c.getImageData(40, 24, 1, 1).data[3] === 0;",
        &[&f.get("#a"), &f.get("#b"), &f.get("#n")],
    );
    assert_eq!(blank, JsValue::TRUE, "#b's buffer was meant to be cleared");

    let session = crate::canvas::watched(&relay).await;
    sleep(600).await;
    let frames = |width: u32| -> Vec<CanvasFrame> {
        relay
            .events()
            .into_iter()
            .filter_map(|(_, e)| match e {
                Event::Canvas(c) if c.width == width => Some(c),
                _ => None,
            })
            .collect()
    };
    let a = frames(96);
    assert_eq!(a.len(), 1, "{a:?}");
    let got = centre(&a[0]).await;
    assert!(close(&got, [0, 153, 51, 255]), "#a arrived as {got:?}");
    let b = frames(80);
    assert_eq!(b.len(), 1, "{b:?}");
    let got = centre(&b[0]).await;
    assert!(
        close(&got, [51, 102, 255, 255]),
        "#b arrived as {got:?} (its last picture: the loader's copy)"
    );
    session.end();
}

/// Runs the loader in a fresh frame of this page from a `<script>` tag with
/// `attrs`, then makes a WebGL context there that asks for no preserved
/// buffer: whether it got one anyway (`None` without WebGL).
fn loader_preserves_in_fresh_frame(attrs: &[(&str, &str)]) -> Option<bool> {
    let d = document();
    let w = web_sys::window().unwrap();
    if let Ok(Some(storage)) = w.session_storage() {
        storage.remove_item("cobrowse:session").unwrap();
    }
    let frame = d.create_element("iframe").unwrap();
    d.body().unwrap().append_child(&frame).unwrap();
    let inner: web_sys::Document = js_sys::Reflect::get(&frame, &"contentDocument".into())
        .unwrap()
        .unchecked_into();
    let tag = inner.create_element("script").unwrap();
    for (name, value) in attrs {
        tag.set_attribute(name, value).unwrap();
    }
    tag.set_text_content(Some(include_str!("../../js/cobrowse.js")));
    inner.body().unwrap().append_child(&tag).unwrap();
    let probe = js_sys::Function::new_with_args(
        "doc",
        "const gl = doc.createElement('canvas').getContext('webgl', { preserveDrawingBuffer: false });
         return gl ? gl.getContextAttributes().preserveDrawingBuffer : null;",
    );
    let got = probe.call1(&JsValue::NULL, &inner).unwrap();
    frame.remove();
    got.as_bool()
}

#[wasm_bindgen_test]
fn data_webgl_off_leaves_the_pages_webgl_contexts_as_the_page_made_them() {
    let Some(by_default) = loader_preserves_in_fresh_frame(&[]) else {
        web_sys::console::log_1(&"no WebGL in this browser".into());
        return;
    };
    assert!(
        by_default,
        "the loader preserves new contexts' buffers by default"
    );
    assert_eq!(
        loader_preserves_in_fresh_frame(&[("data-webgl", "off")]),
        Some(false),
        "with data-webgl=\"off\" the page's own choice stands"
    );
}
